#!/bin/sh
# test_wordcount.sh - the batch WordCount example (examples/batch/wordcount.so)
# run through `flinc run`, end to end.
#
# The oracle is the classic shell word count,
#
#     tr -cs 'A-Za-z0-9_' '\n' < FILE | tr A-Z a-z | sed '/^$/d' | sort | uniq -c
#
# which splits words exactly as the example promises (runs of ASCII letters,
# digits and underscores, lower-cased; every other byte separates). Each input
# runs at parallelism 1, 2 and 4; the printed "(word,count)" lines (with the
# "N> " prefix of a parallel print sink) must be the oracle's, one line per
# word. Inputs: the bundled hamlet.txt, a file of tricky bytes (CRLF, tabs,
# punctuation runs, UTF-8, a NUL, a line over 100 KB, no final newline), a
# file with a word larger than a network buffer, and an empty file. Then
# --output DIR, and the built-in text when --input is absent.
set -eu
. "$(dirname "$0")/lib.sh"

JOB="$FLINC_EXAMPLES/batch/wordcount.so"

# oracle FILE > "word,count" lines, sorted
oracle() {
    # ASCII letters only, as the example splits words.
    # shellcheck disable=SC2018,SC2019
    tr -cs 'A-Za-z0-9_' '\n' <"$1" | tr 'A-Z' 'a-z' | sed '/^$/d' | sort | uniq -c |
        awk '{ print $2 "," $1 }' | sort
}

# normalize < printed lines > "word,count" lines, sorted
normalize() {
    sed -e 's/^[0-9][0-9]*> //' -e 's/^(\(.*\))$/\1/' | sort
}

# check_prefixes FILE P: with P = 1 no line has a prefix; above 1 every line
# has one, naming a subtask in 1..P.
check_prefixes() {
    CHECKS=$((CHECKS + 1))
    if [ "$2" -eq 1 ]; then
        if grep -q '^[0-9][0-9]*> ' "$1"; then
            fail "parallelism 1 printed a subtask prefix"
            show "$1"
        fi
    else
        bad=$(awk -v p="$2" '
            !/^[0-9]+> \(/ { bad++; next }
            { n = substr($0, 1, index($0, ">") - 1) + 0; if (n < 1 || n > p) bad++ }
            END { print bad + 0 }' "$1")
        if [ "$bad" -ne 0 ]; then
            fail "$bad printed lines lack a 'N> (' prefix with N in 1..$2"
            show "$1"
        fi
    fi
}

# count_input LABEL FILE: the file's counts at parallelism 1, 2 and 4.
count_input() {
    oracle "$2" >"$WORK/$1.expected"
    for p in 1 2 4; do
        begin "$1, -p $p"
        run_flinc "$1-p$p" run -p "$p" "$JOB" --input "$2"
        expect_rc "$1-p$p" 0
        check_prefixes "$WORK/$1-p$p.out" "$p"
        normalize <"$WORK/$1-p$p.out" >"$WORK/$1-p$p.got"
        expect_same "$WORK/$1.expected" "$WORK/$1-p$p.got"
    done
}

# ---- inputs ------------------------------------------------------------------

HAMLET="$FLINC_SOURCE_DIR/examples/data/hamlet.txt"

TRICKY="$WORK/tricky.txt"
{
    printf 'Hello, WORLD!! hello...world;;; --- foo_bar FOO_BAR foo-bar\r\n'
    printf '\r\n'
    printf '\n\n'
    printf '\tTabs\tand  spaces\t\t mixed\tIN\t\r\n'
    printf '2024-01-01 v2 x86_64 007 42 42 42 0x1F\n'
    # UTF-8: "café naïve €uro 😀emoji Straße"; the non-ASCII bytes separate words.
    printf 'caf\303\251 na\303\257ve \342\202\254uro \360\237\230\200emoji Stra\303\237e\n'
    printf '___ _ __init__ a_b_c _leading trailing_\n'
    printf '(punctuation)[brackets]{braces}<angles>"quotes" it'"'"'s don'"'"'t 100%% back\\slash\n'
    printf 'a NUL\000byte inside\n'
    printf '\r\n'
    printf '   \n'
    # A line of about 140 KB: 15000 words from a vocabulary of 500, mixed case,
    # and one 1000-letter word.
    awk 'BEGIN {
        for (i = 0; i < 15000; i++) printf "%s%d, ", (i % 3 ? "Word" : "wORD"), i % 500
        for (i = 0; i < 1000; i++) printf "q"
        printf " end-of-long-line\n"
    }'
    printf 'Hello again\n\n\n'
    printf 'the last line has no newline: FIN'
} >"$TRICKY"
if [ "$(wc -c <"$TRICKY")" -lt 100000 ]; then
    echo "setup: the tricky input is too short" >&2
    exit 1
fi

# A word of 48 KiB, larger than a network buffer (32 KiB), twice, among others.
BIGWORD="$WORK/bigword.txt"
{
    printf 'small words before\n'
    awk 'BEGIN { for (i = 0; i < 49152; i++) printf "z"; printf " small\n" }'
    printf 'and after\n'
    awk 'BEGIN { for (i = 0; i < 49152; i++) printf "Z"; printf "\n" }'
} >"$BIGWORD"

EMPTY="$WORK/empty.txt"
: >"$EMPTY"

count_input hamlet "$HAMLET"
count_input tricky "$TRICKY"
count_input bigword "$BIGWORD"

for p in 1 2 4; do
    begin "empty file, -p $p"
    run_flinc "empty-p$p" run -p "$p" "$JOB" --input "$EMPTY"
    expect_rc "empty-p$p" 0
    CHECKS=$((CHECKS + 1))
    if [ -s "$WORK/empty-p$p.out" ]; then
        fail "an empty input printed something"
        show "$WORK/empty-p$p.out"
    fi
done

# ---- --output DIR: the union of the files is the result ------------------------

for p in 1 2 4; do
    begin "hamlet, --output, -p $p"
    out="$WORK/counts-p$p"
    run_flinc "output-p$p" run -p "$p" "$JOB" --input "$HAMLET" --output "$out"
    expect_rc "output-p$p" 0
    CHECKS=$((CHECKS + 1))
    if [ -s "$WORK/output-p$p.out" ]; then
        fail "with --output, counts were printed to stdout too"
        show "$WORK/output-p$p.out"
    fi
    CHECKS=$((CHECKS + 1))
    if [ ! -d "$out" ]; then
        fail "--output $out did not create a directory"
        continue
    fi
    files=$(find "$out" -type f | wc -l)
    CHECKS=$((CHECKS + 1))
    if [ "$files" -lt 1 ] || [ "$files" -gt "$p" ]; then
        fail "--output wrote $files files at parallelism $p, expected 1..$p"
    fi
    find "$out" -type f -exec cat {} + | sort >"$WORK/output-p$p.got"
    expect_same "$WORK/hamlet.expected" "$WORK/output-p$p.got"
done

# ---- no --input: the built-in text ---------------------------------------------

begin "built-in text"
# The oracle reads the text from the example's source: the string literals
# between "default_text[] = {" and "};".
sed -n '/default_text\[\] = {/,/^};/p' "$FLINC_SOURCE_DIR/examples/batch/wordcount.c" |
    sed -n 's/^ *"\(.*\)",$/\1/p' >"$WORK/default.txt"
CHECKS=$((CHECKS + 1))
if [ "$(wc -l <"$WORK/default.txt")" -lt 5 ]; then
    fail "could not extract the built-in text from examples/batch/wordcount.c"
fi
oracle "$WORK/default.txt" >"$WORK/default.expected"
run_flinc default run "$JOB"
expect_rc default 0
CHECKS=$((CHECKS + 1))
if [ "$(sed -n 1p "$WORK/default.out")" != "Executing WordCount example with default input data set." ] ||
    [ "$(sed -n 2p "$WORK/default.out")" != "Use --input to specify file input." ]; then
    fail "the first two lines are not the notice about the default input"
    show "$WORK/default.out"
fi
sed '1,2d' "$WORK/default.out" | normalize >"$WORK/default.got"
expect_same "$WORK/default.expected" "$WORK/default.got"
# Counted by hand in the text, in case the extraction above went wrong.
expect_line "$WORK/default.got" "the,13" "river,4" "miller,4" "a,8"

finish
