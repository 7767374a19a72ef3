#!/usr/bin/python3
"""Writes small, valid Hugging Face `tokenizer.json` files for the tiny models (issue 14).

json only (no `tokenizers`, no pip): each file is a WordLevel model over a 64-entry vocabulary (the models'
vocab_size) with a Whitespace pre-tokenizer (`\\w+|[^\\w\\s]+`, as the `tokenizers` library splits), no
normalizer, and:

- tiny-gemma2, tiny-gemma3, tiny-gemma3-nested: Gemma's special ids (0 `<pad>`, 1 `<eos>`, 2 `<bos>`,
  3 `<unk>`), the words from id 4, and a TemplateProcessing post-processor that puts `<bos>` (id 2) first, as Gemma's tokenizer does;
  Gemma 3 also has its image tokens at the config's boi/eoi/image indices (60, 61, 62) and `<end_of_turn>` (63).
- tiny-gpt2: `<|endoftext|>` last (id 63, as GPT-2's 50256 is last), `<unk>` 62, and no post-processor (GPT-2
  adds no BOS).

Words get ids in the order of WORDS below. Run: /usr/bin/python3 datasets/generate_tokenizers.py
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

WORDS = [
    "the", "cat", "sat", "on", "mat", "a", "dog", "ran", "to", "park", "and", "is", "was", "red", "blue",
    "big", "small", "house", "tree", "bird", "sky", "in", "of", "it", "he", "she", "they", "saw", "ate",
    "fish", "sun", "moon", "day", "night", "water", "one", "two", "three", "up", "down", "old", "new",
    "good", "bad", "hello", "world", "yes", "no", "not", "with", "by", ".", ",", "!", "?", "'", "-",
    "sea", "boat", "rain", "snow", "green",
]
assert len(WORDS) == 62 and len(set(WORDS)) == 62


def added(i, content):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def tokenizer(vocab, specials, unk, post_processor):
    assert len(vocab) == 64 and sorted(vocab.values()) == list(range(64)), "vocabulary must be ids 0..63"
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(vocab[s], s) for s in specials],
        "normalizer": None,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": post_processor,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": unk},
    }


def gemma(extra):
    """Gemma's special ids 0-3, then the words in order, then `extra` {id: token} at the top of the vocabulary."""
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    vocab = {s: i for i, s in enumerate(specials)}
    free = [i for i in range(4, 64) if i not in extra]
    for w, i in zip(WORDS, free):
        vocab[w] = i
    for i, t in extra.items():
        vocab[t] = i
    bos = {"SpecialToken": {"id": "<bos>", "type_id": 0}}
    post = {
        "type": "TemplateProcessing",
        "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]}},
    }
    return tokenizer(vocab, specials + list(extra.values()), "<unk>", post)


def gpt2():
    vocab = {w: i for i, w in enumerate(WORDS[:62])}
    vocab["<unk>"] = 62
    vocab["<|endoftext|>"] = 63
    return tokenizer(vocab, ["<unk>", "<|endoftext|>"], "<unk>", None)


def write(folder, tok):
    path = os.path.join(HERE, folder, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tok, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote", path)


def main():
    g2 = gemma({})  # ids 4..63: the first 60 words
    g3 = gemma({60: "<start_of_image>", 61: "<end_of_image>", 62: "<image_soft_token>", 63: "<end_of_turn>"})
    assert g2["model"]["vocab"]["the"] == 4 and g2["model"]["vocab"]["cat"] == 5 and g3["model"]["vocab"]["."] == 55
    write("tiny-gemma2", g2)
    write("tiny-gemma3", g3)
    write("tiny-gemma3-nested", g3)
    write("tiny-gpt2", gpt2())


if __name__ == "__main__":
    main()
