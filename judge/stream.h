/* judge streams: items read from a pipe as they arrive (`tail -f log |
 * phi3vk classify --jsonl`), each answered without waiting for the end of
 * the input. Plain text (one item per line) and JSONL, with the rules and
 * messages of judge/dataset.h (ids are line numbers unless an id field is
 * named; blank lines skipped; NUL bytes, bad JSON and repeated ids are
 * errors naming name:line).
 *
 * Batches: a read waits for the first item, then takes every further whole
 * line already there (without waiting), up to the batch size; so a pipe fed
 * slowly gets an answer per line, and a fast one (a file piped in) batches
 * as judge_run does. A line is at most JUDGE_STREAM_MAX_LINE bytes. */
#ifndef PHI3VK_JUDGE_STREAM_H
#define PHI3VK_JUDGE_STREAM_H

#include <signal.h>
#include <stddef.h>

#include "judge/dataset.h"
#include "judge/run.h"
#include "judge/shard.h"

#define JUDGE_STREAM_MAX_LINE (16u << 20)

typedef struct judge_stream judge_stream;

typedef struct judge_stream_opts {
    judge_dataset_opts ds;     /* format (text or jsonl; AUTO = text), text/id fields */
    judge_shard shard;         /* keep only this shard's items; n 0 or 1: all */
    int limit;                 /* stop after the first limit items (before sharding); 0: no limit */
} judge_stream_opts;

/* Reads items from fd (not owned; e.g. 0), naming it name in messages
 * ("<stdin>"). NULL with err for a format other than text or jsonl, or out
 * of memory. */
judge_stream *judge_stream_open(int fd, const char *name, const judge_stream_opts *o, char *err, size_t errlen);

/* Frees the stream (NULL is fine). */
void judge_stream_close(judge_stream *s);

/* Waits for at least one item (or the end of the input, or *stop: a signal
 * interrupts the wait), then takes the items of every whole line already
 * read, at most max. *items points at them (valid until the next call).
 * Returns how many (0: the input ended or *stop was set), or -1 with err
 * (name:line: why; a read error). */
int judge_stream_next(judge_stream *s, const judge_item *const **items, int max, volatile sig_atomic_t *stop,
                      char *err, size_t errlen);

/* Items that are not valid UTF-8 so far (their bytes are kept) and the line
 * of the first. */
int judge_stream_invalid_utf8(const judge_stream *s, int *first_line);

/* The judge_run of a stream: reads batches of up to o->batch items, skips
 * those of other shards and those o->out already has (resume), classifies
 * the rest with fn and writes each result as judge_run does (output file,
 * JSONL, table with its header once), flushing after every batch. prog
 * counts as judge_run's (total grows with the items). Returns 0 at the end
 * of the input, 1 when *o->stop ended it, -1 with err. */
int judge_stream_run(judge_stream *s, judge_classify_fn fn, void *user, const judge_run_opts *o, judge_progress *prog,
                     char *err, size_t errlen);

#endif
