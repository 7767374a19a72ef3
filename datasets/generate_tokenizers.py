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

tiny-qwen3 and tiny-llama3 get byte-level BPE files in their real models' style instead: the regex Split
pre-tokenizer of Qwen2/3 (digits one by one) or Llama 3 (digits in threes) followed by ByteLevel (bytes mapped to
printable characters, the space to `Ġ`), a BPE model with merges and no unk token (characters outside the tiny
vocabulary are dropped, as `tokenizers` drops them), ids 0..59 the 31 single characters `! , . ?`, `a`..`z`, `Ġ` (in
GPT-2's byte order) then one id per merge in rank order, and the special tokens at the config's bos/eos ids:
- tiny-qwen3: 60 `<|endoftext|>` (config bos_token_id), 61 `<|im_end|>` (eos_token_id), 62 `<|im_start|>`,
  63 `<think>`; NFC normaliser; post-processor ByteLevel only (Qwen adds no BOS).
- tiny-llama3: 60 `<|begin_of_text|>` (bos_token_id), 61 `<|end_of_text|>` (eos_token_id), 62
  `<|start_header_id|>`, 63 `<|end_header_id|>`; `ignore_merges` (a word in the vocabulary is one token); the
  post-processor a Sequence of ByteLevel and a TemplateProcessing that puts `<|begin_of_text|>` first, as Llama 3's.
The expected ids of a few strings are computed by a small BPE encoder below (`bpe_ids`) and printed; the Java
tests (TokenizerTest) pin them.

Words get ids in the order of WORDS below. Run: /usr/bin/python3 datasets/generate_tokenizers.py
"""
import json
import re
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


# ---- byte-level BPE (Qwen3, Llama 3)

QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
              r"|\s+(?!\S)|\s+")
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")

BASE = list("!,.?") + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["\u0120"]  # Ġ: the space byte
MERGES = [
    ("\u0120", "t"), ("h", "e"), ("\u0120t", "he"), ("a", "t"), ("\u0120", "c"), ("\u0120c", "at"),
    ("\u0120", "s"), ("\u0120s", "at"), ("o", "n"), ("\u0120", "on"), ("\u0120", "m"), ("\u0120m", "at"),
    ("t", "he"), ("\u0120", "a"), ("i", "n"), ("\u0120", "in"), ("\u0120", "d"), ("o", "g"), ("\u0120d", "og"),
    ("l", "l"), ("he", "ll"), ("hell", "o"), ("\u0120", "w"), ("o", "r"), ("\u0120w", "or"), ("l", "d"),
    ("\u0120wor", "ld"), ("i", "s"), ("\u0120", "is"),
]
assert len(BASE) + len(MERGES) == 60


def bpe_vocab():
    vocab = {c: i for i, c in enumerate(BASE)}
    for a, b in MERGES:
        assert a in vocab and b in vocab and a + b not in vocab, (a, b)
        vocab[a + b] = len(vocab)
    return vocab


def bpe_ids(text, vocab, bos=None):
    """A minimal byte-level BPE encoder for the tiny vocabulary (lower-case words, spaces and . , ! ? only): split
    before each space and before punctuation, map the space to Ġ, merge by rank; the Java tests pin its answers."""
    ranks = {m: i for i, m in enumerate(MERGES)}
    words = re.findall(r" ?[a-z]+| ?[!,.?]+", text)
    assert "".join(words) == text, "the sketch encoder handles lower-case words and . , ! ? only"
    ids = [] if bos is None else [bos]
    for w in words:
        parts = list(w.replace(" ", "\u0120"))
        while True:
            pairs = [(ranks.get((parts[i], parts[i + 1]), 1 << 30), i) for i in range(len(parts) - 1)]
            if not pairs or min(pairs)[0] == 1 << 30:
                break
            _, i = min(pairs)
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        ids += [vocab[p] for p in parts]
    return ids


def byte_level_bpe(split, specials, normalizer, post_processor, ignore_merges):
    vocab = bpe_vocab()
    for i, s in enumerate(specials):
        vocab[s] = 60 + i
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(60 + i, s) for i, s in enumerate(specials)],
        "normalizer": normalizer,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": split}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": ignore_merges, "vocab": vocab, "merges": [[a, b] for a, b in MERGES]},
    }


def qwen3():
    post = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    return byte_level_bpe(QWEN_SPLIT, ["<|endoftext|>", "<|im_end|>", "<|im_start|>", "<think>"],
                          {"type": "NFC"}, post, False)


def llama3():
    bos = {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}
    post = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|begin_of_text|>",
                                                                                  "type_id": 1}},
                  {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [60],
                                                  "tokens": ["<|begin_of_text|>"]}}}]}
    return byte_level_bpe(LLAMA3_SPLIT,
                          ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>"],
                          None, post, True)


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
    for folder, tok, bos in [("tiny-qwen3", qwen3(), None), ("tiny-llama3", llama3(), 60)]:
        with open(os.path.join(HERE, folder, "config.json")) as f:
            assert json.load(f)["vocab_size"] == 64
        write(folder, tok)
        for text in ["the cat sat on the mat.", "hello world!", "the dog is in the sea?"]:
            print("  %-26s %s" % (repr(text), bpe_ids(text, tok["model"]["vocab"], bos)))


if __name__ == "__main__":
    main()
