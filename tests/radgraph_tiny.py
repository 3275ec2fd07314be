"""Build a tiny, randomly initialised RadGraph model folder in the layout the radgraph package unpacks
(``<cache>/<model_type>/`` = config.json, vocabulary/, weights.th) with a tiny local BERT as its encoder, so
the real loading code can be exercised without any download."""
from __future__ import annotations

import json
from pathlib import Path

import torch

V1_LABELS = ["ANAT-DP", "OBS-DP", "OBS-DA", "OBS-U"]
RELATIONS = ["located_at", "modify", "suggestive_of"]
WORDS = ["no", "nodule", "lesion", "in", "the", "right", "left", "lower", "lobe", "liver", "kidney", "measures",
         "mm", "cm", "x", "series", "image", "previously", "a", "of", ".", ",", "(", ")", ":", "/", "cyst", "mass"]


def build_tiny_radgraph(cache_dir: Path, model_type: str = "radgraph", seed: int = 0) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizer

    from radgraph.allennlp.data import Vocabulary
    from radgraph.allennlp.modules import text_field_embedders, token_embedders
    from radgraph.dygie.models import dygie

    torch.manual_seed(seed)
    cache_dir = Path(cache_dir)
    bert_dir = cache_dir / "tiny-bert"
    bert_dir.mkdir(parents=True, exist_ok=True)
    vocab_txt = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + [str(d) for d in range(10)]
    (bert_dir / "vocab.txt").write_text("\n".join(vocab_txt) + "\n")
    BertTokenizer(str(bert_dir / "vocab.txt"), do_lower_case=True).save_pretrained(bert_dir)
    BertModel(BertConfig(vocab_size=len(vocab_txt), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128)).save_pretrained(bert_dir)
    model_dir = cache_dir / model_type
    model_dir.mkdir(parents=True, exist_ok=True)
    bert = {"model_name": str(bert_dir), "max_length": 128}
    model_cfg = {
        "type": "dygie", "embedder": {"token_embedders": {"bert": {"type": "pretrained_transformer_mismatched", **bert}}},
        "initializer": {}, "module_initializer": {},
        "modules": {"ner": {}, "relation": {"spans_per_word": 0.5},
                    "coref": {"spans_per_word": 0.3, "max_antecedents": 10, "coref_prop": 0},
                    "events": {"trigger_spans_per_word": 0.3, "argument_spans_per_word": 0.8,
                               "loss_weights": {"trigger": 1.0, "arguments": 0.5}}},
        "feature_size": 8, "max_span_width": 4, "target_task": "relation",
        "feedforward_params": {"num_layers": 1, "hidden_dims": 16, "dropout": 0.0},
        "loss_weights": {"ner": 0.2, "relation": 1.0, "coref": 0.0, "events": 0.0},
    }
    config = {"dataset_reader": {"type": "dygie", "max_span_width": 4, "token_indexers": {"bert": bert}},
              "model": model_cfg}
    (model_dir / "config.json").write_text(json.dumps(config, indent=1))
    vocab = Vocabulary()
    vocab.add_token_to_namespace("", f"{model_type}__ner_labels")
    for label in V1_LABELS:
        vocab.add_token_to_namespace(label, f"{model_type}__ner_labels")
    vocab.add_token_to_namespace("", f"{model_type}__relation_labels")
    for rel in RELATIONS:
        vocab.add_token_to_namespace(rel, f"{model_type}__relation_labels")
    vocab.save_to_files(str(model_dir / "vocabulary"))
    vocab = Vocabulary.from_files(str(model_dir / "vocabulary"))
    embedder = text_field_embedders.BasicTextFieldEmbedder(
        {"bert": token_embedders.PretrainedTransformerMismatchedEmbedder(model_name=bert["model_name"], max_length=128)})
    kwargs = {k: v for k, v in model_cfg.items() if k not in ("type", "embedder", "initializer", "module_initializer")}
    model = dygie.DyGIE(vocab=vocab, embedder=embedder, **kwargs)
    torch.save(model.state_dict(), model_dir / "weights.th")
    return model_dir
