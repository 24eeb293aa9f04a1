"""word count: generate a deterministic pseudo-random text (a linear
congruential generator picks words from a made-up vocabulary), then count
its lines, characters and words, and print the ten most frequent words.
Same algorithm as word_count.npl (NPL has no file I/O, so the text is made
in the program).

Usage: python3 word_count.py [LINES]   (default 500000)
"""
import sys


def next_random(state):
    return (state * 1103515245 + 12345) % 2147483648


def make_vocabulary():
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "an", "el", "or", "us"]
    words = []
    for a in syllables:
        for b in syllables:
            words.append(a + b)
    for a in syllables:
        for b in syllables:
            for c in syllables:
                words.append(a + b + c)
    return words


def generate_text(n_lines, seed):
    vocab = make_vocabulary()
    n = len(vocab)
    endings = [".", "", "!", "?", ";"]
    lines = []
    state = seed
    for i in range(n_lines):
        state = next_random(state)
        length = 6 + state // 65536 % 10
        words = []
        for j in range(length):
            state = next_random(state)
            k = state // 256 % n
            word = vocab[k * k // n]
            if j == 0:
                word = word.capitalize()
            elif state // 65536 % 9 == 0:
                word = word + ","
            words.append(word)
        state = next_random(state)
        lines.append(" ".join(words) + endings[state // 65536 % len(endings)])
    return "\n".join(lines)


def strip_punctuation(word):
    while len(word) > 0 and word[-1] in ".,!?;":
        word = word[:-1]
    return word


def count_words(text):
    counts = {}
    for line in text.splitlines():
        for raw in line.split():
            word = strip_punctuation(raw.lower())
            counts[word] = counts.get(word, 0) + 1
    return counts


def size_from(args, default):
    if len(args) > 0 and args[-1].isdigit():
        return int(args[-1])
    return default


def main(args):
    text = generate_text(size_from(args, 500000), 42)
    counts = count_words(text)
    total = sum(counts.values())
    print(f"lines: {len(text.splitlines())}, chars: {len(text)}, words: {total}, distinct: {len(counts)}")
    ranked = sorted(sorted(counts.keys()), key=lambda w: counts[w], reverse=True)
    for w in ranked[:10]:
        print(f"{counts[w]:>7} {w}")


if __name__ == "__main__":
    main(sys.argv[1:])
