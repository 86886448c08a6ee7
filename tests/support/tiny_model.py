"""Build a tiny BERT sequence classifier (random weights) and export it like `model train`.

Never downloads anything and never trains: the point is a real tokenizer + ONNX graph with
the same layout as a trained model folder, in a second or two.
"""

from __future__ import annotations

from pathlib import Path

from core.names import LABELS

WORDS = """the a of to and in on for is are was were by with at from as that it its this be has
have had not no up down rose fell profit loss sales revenue shares stock market company
quarter year growth decline increase decrease record strong weak beat miss estimates
guidance cut raise dividend bank oil price prices rate rates inflation jobs report said
will would could may expects expected million billion percent eur usd net operating
nokia apple tesla board meets monday outlook warning lawsuit merger deal acquisition""".split()

TOY = [
    ("profit rose to a record", "positive"), ("shares rose on strong growth", "positive"),
    ("company beat estimates and will raise dividend", "positive"),
    ("sales increase strong quarter", "positive"), ("revenue growth beat", "positive"),
    ("profit fell to a loss", "negative"), ("shares fell on weak guidance", "negative"),
    ("company will cut dividend after loss", "negative"), ("sales decline miss", "negative"),
    ("profit warning lawsuit", "negative"),
    ("board meets monday", "neutral"), ("the company said it will report", "neutral"),
    ("the bank is in the market", "neutral"), ("the report was expected on monday", "neutral"),
    ("oil price report", "neutral"),
]


def build_tiny_model(out: Path, *, seed: int = 0, hidden: int = 32, layers: int = 2,
                     fit_steps: int = 150) -> Path:
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    from model.export import export_onnx, quantize_int8, write_labels, write_model_version

    out.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,%$'-")
    vocab = specials + chars + [f"##{c}" for c in chars] + WORDS
    word_piece = BertWordPieceTokenizer({t: i for i, t in enumerate(dict.fromkeys(vocab))},
                                        lowercase=True)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=word_piece._tokenizer, unk_token="[UNK]",
                                        pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                        mask_token="[MASK]", model_max_length=128)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=hidden * 2,
                        max_position_embeddings=128, num_labels=len(LABELS),
                        id2label=dict(enumerate(LABELS)),
                        label2id={label: i for i, label in enumerate(LABELS)})
    model = BertForSequenceClassification(config)
    # Random tiny BERTs give the same label to every input. A few dozen steps on toy
    # sentences (about a second) make outputs input-dependent and the labels meaningful.
    texts, labels = zip(*TOY, strict=True)
    enc = tokenizer(list(texts), padding=True, return_tensors="pt")
    target = torch.tensor([LABELS.index(y) for y in labels])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(fit_steps):
        loss = model(**enc, labels=target).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    export_onnx(model, out)
    quantize_int8(out)
    write_labels(out, id2label=dict(enumerate(LABELS)), max_length=64, base_model="tiny-bert")
    write_model_version(out)
    return out
