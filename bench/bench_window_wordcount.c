/*
 * bench_window_wordcount.c - throughput of a windowed WordCount on the
 * embedded cluster:
 *
 *     text file -> split into (word, 1) -> event timestamps -> key_by(word)
 *       -> tumbling 1-second event-time windows -> sum(count) -> sink
 *
 *     bench_window_wordcount [--input FILE] [--words N] [--parallelism P[,P...]]
 *                            [--local-aggregation true|false]
 *
 * --local-aggregation sets pipeline.window.local-aggregation (default true:
 * the planner folds the (word, 1) rows of a word and second before the
 * key_by, docs/windows.md); false sends every word across the exchange.
 *
 * Without --input the program writes N (default 20 000 000) random words from
 * a vocabulary of 10 000, ten to a line, into a file in /tmp and removes it at
 * the end. Event time advances one second per million words: each splitter
 * subtask stamps its words from a running word counter (timestamp = counter /
 * 1000 ms), so the windows hold about a million words each. The job uses
 * flinc's calls over many rows: the splitter emits a line's words with one
 * fl_collector_emit_strings, the timestamps come from a batch assigner. Watermarks are
 * periodic (every 200 ms, Flink's default). The sink adds up the counts of
 * the window results, and the program checks that they add up to the number
 * of words in the file.
 *
 * For each parallelism (default 1, then 2) one line:
 *
 *     parallelism=1 words=20000000 wall_s=... cpu_s=... words_per_s=...
 *         words_per_s_per_cpu_s=... window_results=... split_task_ns_per_word=...
 *         window_task_ns_per_word=...
 *
 * wall_s is the monotonic time around fl_env_execute, cpu_s the user +
 * system CPU time of the whole process over it (getrusage). The last two are
 * the CPU time per word of the tasks that read, split and stamp the words
 * (and send them to the windows) and of the tasks that run the windows
 * (receiving included), each measured by its own thread (RUSAGE_THREAD):
 * they stay meaningful on a busy machine where wall time does not. A
 * program that prints figures, not a test; ctest never runs it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "flinc/flinc.h"

#define MAX_RUNS   16
#define VOCABULARY 10000

typedef struct bench_options {
    const char *input;
    const char *local; /* pipeline.window.local-aggregation */
    int64_t words;
    int n_parallelisms;
    int parallelisms[MAX_RUNS];
} bench_options;

static atomic_llong counted_words, window_results;
/* CPU microseconds of the splitting tasks and of the window tasks, summed
 * over subtasks: each task's thread reports its own at close. */
static atomic_llong split_task_us, window_task_us;

static long long thread_cpu_us(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
           (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

/* Bit k of the result is set when byte k of the SEP_BYTES at p is a
 * separator: a byte of 0x20 (space) or below (tab, CR, LF and the other
 * ASCII control characters). */
#ifdef __SSE2__
#include <emmintrin.h>
#define SEP_BYTES 16
static uint64_t separators(const char *p) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p), space = _mm_set1_epi8(0x20);
    /* unsigned b <= 0x20 exactly when max(b, 0x20) == 0x20 */
    return (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, space), space));
}
#else
#define SEP_BYTES 8
/* Exact for every byte: (b & 0x7f) + 0x5f sets bit 7 when b & 0x7f >= 0x21
 * and never carries into the next byte. */
static uint64_t separators(const char *p) {
    uint64_t x;
    memcpy(&x, p, 8);
    uint64_t ge = (x & UINT64_C(0x7f7f7f7f7f7f7f7f)) + UINT64_C(0x5f5f5f5f5f5f5f5f);
    uint64_t sep = ~(ge | x) & UINT64_C(0x8080808080808080);
    return (sep >> 7) * UINT64_C(0x0102040810204080) >> 56; /* bit 7 of byte k -> bit k */
}
#endif

#define WORDS_PER_CALL 64

/* flat_map (line STRING) -> (word STRING, count BIGINT): words are runs of
 * bytes above 0x20. The line is scanned 64 bytes at a time into a mask of
 * its separators (16 bytes a step with SSE2, else 8), and words are read off the mask's edges: a word per two
 * bit scans rather than a branch per byte. The words go out up to
 * WORDS_PER_CALL at a time through fl_collector_emit_strings, the count
 * staying 1 in the builder. */
int bench_ww_split(fl_context *ctx, const fl_row *in, fl_collector *out) {
    uint32_t len;
    const char *line = fl_row_get_string(in, 0, &len);
    fl_row_builder *b = fl_collector_builder(out);
    fl_row_builder_set_bigint(b, 1, 1);
    const char *words[WORDS_PER_CALL];
    uint32_t lens[WORDS_PER_CALL], n = 0;
    uint64_t carry = 0; /* 1: the previous block ended inside a word */
    uint32_t start = 0;
    for (uint32_t base = 0; base < len; base += 64) {
        uint64_t seps = 0;
        for (uint32_t c = 0; c < 64; c += SEP_BYTES) {
            uint32_t at = base + c;
            if (at + SEP_BYTES <= len) {
                seps |= separators(line + at) << c;
            } else { /* the end: what lies beyond separates */
                char tail[SEP_BYTES];
                memset(tail, ' ', sizeof tail);
                if (at < len) memcpy(tail, line + at, len - at);
                seps |= separators(tail) << c;
            }
        }
        uint64_t word = ~seps, before = word << 1 | carry;
        uint64_t edges = (word & ~before) | (~word & before); /* starts and ends, alternating */
        carry = word >> 63;
        while (edges) {
            uint32_t at = base + (uint32_t)__builtin_ctzll(edges);
            edges &= edges - 1;
            if ((word >> (at - base)) & 1u) {
                start = at;
                continue;
            }
            words[n] = line + start;
            lens[n++] = at - start;
            if (n == WORDS_PER_CALL) {
                int rc = fl_collector_emit_strings(out, 0, n, words, lens);
                if (rc < 0) return rc;
                n = 0;
            }
        }
    }
    if (carry) { /* a word running to the last byte of a 64-byte multiple */
        words[n] = line + start;
        lens[n++] = len - start;
    }
    return fl_collector_emit_strings(out, 0, n, words, lens);
}

/* The splitter subtask's running word counter, in its user pointer. */
int bench_ww_open(fl_context *ctx) {
    fl_context_set_user(ctx, calloc(1, sizeof(int64_t)));
    return fl_context_user(ctx) ? 0 : fl_context_fail(ctx, "out of memory");
}

void bench_ww_close(fl_context *ctx) {
    free(fl_context_user(ctx));
    atomic_fetch_add(&split_task_us, thread_cpu_us());
}

/* The sink runs in the window's task (chained): its close reports that
 * task's CPU (a close hook runs only after an open hook). */
int bench_ww_sink_open(fl_context *ctx) { return 0; }

void bench_ww_sink_close(fl_context *ctx) { atomic_fetch_add(&window_task_us, thread_cpu_us()); }

/* One second of event time per million words, a batch of words at a time. */
int bench_ww_timestamps(fl_context *ctx, uint32_t n, const fl_row *const *rows,
                        int64_t *timestamps) {
    int64_t *counter = fl_context_user(ctx), c = *counter;
    for (uint32_t k = 0; k < n; k++) timestamps[k] = (c + k) / 1000;
    *counter = c + n;
    return 0;
}

int bench_ww_sink(fl_context *ctx, const fl_row *in) {
    atomic_fetch_add(&counted_words, fl_row_get_bigint(in, 1));
    atomic_fetch_add(&window_results, 1);
    return 0;
}

/* Writes n random words (ten to a line) to path; the number of words, or -1. */
static int64_t generate(const char *path, int64_t n) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_window_wordcount: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    static char vocab[VOCABULARY][12];
    uint64_t rng = 88172645463325252ULL;
    for (int i = 0; i < VOCABULARY; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        int len = 3 + (int)(rng % 8);
        for (int j = 0; j < len; j++) vocab[i][j] = (char)('a' + (rng >> (5 * j + 8)) % 26);
        vocab[i][len] = '\0';
    }
    for (int64_t i = 0; i < n; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        fputs(vocab[rng % VOCABULARY], f);
        fputc(i % 10 == 9 || i == n - 1 ? '\n' : ' ', f);
    }
    if (fclose(f) != 0) return -1;
    return n;
}

/* Words in the file as the splitter counts them. */
static int64_t count_words(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int64_t n = 0;
    int c, in_word = 0;
    while ((c = getc(f)) != EOF) {
        int sep = c <= 0x20;
        if (!sep && !in_word) n++;
        in_word = !sep;
    }
    fclose(f);
    return n;
}

static int run_once(const char *path, int64_t words, int parallelism, const char *local) {
    fl_env *env = fl_env_create();
    fl_env_set_parallelism(env, parallelism);
    fl_env_configure(env, "pipeline.window.local-aggregation", local, NULL);
    fl_schema *wc = fl_schema_of(2, "word", FL_STRING, "count", FL_BIGINT);
    fl_stream *lines = fl_env_read_text_file(env, path);
    fl_stream *split = fl_stream_flat_map(lines, bench_ww_split, wc);
    fl_watermark_strategy ws = {.timestamp_batch_fn = bench_ww_timestamps};
    fl_stream *timed = fl_stream_assign_timestamps_and_watermarks(split, &ws);
    fl_stream_set_hooks(timed, bench_ww_open, bench_ww_close);
    fl_windowed_stream *w =
        fl_keyed_window(fl_stream_key_by(timed, "word"), fl_tumbling_event_time_windows(1000, 0));
    fl_stream_set_hooks(fl_stream_sink(fl_window_sum(w, "count"), bench_ww_sink),
                        bench_ww_sink_open, bench_ww_sink_close);
    fl_schema_unref(wc);

    atomic_store(&counted_words, 0);
    atomic_store(&window_results, 0);
    atomic_store(&split_task_us, 0);
    atomic_store(&window_task_us, 0);
    fl_error err;
    fl_error_clear(&err);
    double wall, cpu;
    int rc = bench_execute(env, "Window WordCount benchmark", &wall, &cpu, &err);
    fl_env_destroy(env);
    if (rc != 0) {
        fprintf(stderr, "bench_window_wordcount: the job failed: %s\n", err.message);
        return -1;
    }
    if (atomic_load(&counted_words) != words) {
        fprintf(stderr,
                "bench_window_wordcount: the windows counted %lld words, the file has %lld\n",
                (long long)atomic_load(&counted_words), (long long)words);
        return -1;
    }
    double split_ns = 1e3 * (double)atomic_load(&split_task_us) / (double)words;
    double window_ns = 1e3 * (double)atomic_load(&window_task_us) / (double)words;
    printf("parallelism=%d local_aggregation=%s words=%lld wall_s=%.3f cpu_s=%.3f words_per_s=%.0f "
           "words_per_s_per_cpu_s=%.0f window_results=%lld split_task_ns_per_word=%.1f "
           "window_task_ns_per_word=%.1f\n",
           parallelism, local, (long long)words, wall, cpu, (double)words / wall, (double)words / cpu,
           (long long)atomic_load(&window_results), split_ns, window_ns);
    fflush(stdout);
    return 0;
}

/* "1,2,4" into o->parallelisms. */
static int parse_list(const char *s, bench_options *o) {
    o->n_parallelisms = bench_parse_list(s, 1, 64, o->parallelisms, MAX_RUNS);
    return o->n_parallelisms > 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    bench_options o = {
        .words = 20000000, .local = "true", .n_parallelisms = 2, .parallelisms = {1, 2}};
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--input") == 0 && v) {
            o.input = v;
        } else if (strcmp(argv[i], "--words") == 0 && v) {
            o.words = strtoll(v, NULL, 10);
            if (o.words < 1) goto usage;
        } else if (strcmp(argv[i], "--parallelism") == 0 && v) {
            if (parse_list(v, &o) < 0) goto usage;
        } else if (strcmp(argv[i], "--local-aggregation") == 0 && v) {
            if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) goto usage;
            o.local = v;
        } else {
            goto usage;
        }
        i++;
    }
    char generated[64] = "";
    const char *path = o.input;
    int64_t words;
    if (!path) {
        snprintf(generated, sizeof generated, "/tmp/flinc-bench-words-%d.txt", (int)getpid());
        path = generated;
        words = generate(path, o.words);
    } else {
        words = count_words(path);
    }
    if (words < 0) {
        fprintf(stderr, "bench_window_wordcount: cannot read %s\n", path);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < o.n_parallelisms && rc == 0; i++)
        rc = run_once(path, words, o.parallelisms[i], o.local);
    if (generated[0]) unlink(generated);
    return rc == 0 ? 0 : 1;
usage:
    fprintf(stderr,
            "usage: bench_window_wordcount [--input FILE] [--words N] [--parallelism P[,P...]]\n"
            "                              [--local-aggregation true|false]\n");
    return 2;
}
