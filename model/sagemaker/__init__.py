"""SageMaker serving artifact: code/inference.py for the Hugging Face inference toolkit."""
