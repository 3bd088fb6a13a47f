/*
 * cli_io.h - the input and output plumbing that commands share (tag, train,
 * convert): read INPUT in a format, tokenize documents that have no tokens,
 * keep only the entity types of a label set, project gold entities onto BIO
 * tags, and write a corpus in a format (entities decoded from tags where the
 * format wants entities), atomically.
 */
#ifndef CLINNER_CLI_IO_H
#define CLINNER_CLI_IO_H

#include "clinner/corpus.h"
#include "clinner/tokenize.h"

typedef struct cli_input {
    const char *path;              /* file, directory (brat) or "-" */
    cl_format format;
    cl_tokenizer_kind tokenizer;   /* for formats without tokens */
    const char *const *types;      /* entity types kept (NULL: all) */
    int ntypes;
    cl_bio_stats *bio_stats;       /* optional: projection losses are added here */
} cli_input;

/* Format of a path when --from/--format is not given: brat for a directory,
 * else by extension (.csv paper-csv, .conll/.tsv conll, .jsonl/.json jsonl,
 * .ann brat), else text. */
cl_format cli_guess_format(const char *path);

/* Bring one document into token form: drop entities and tags of other
 * types, tokenize when it has no tokens, project entities onto tags when it
 * has none (the paper's brat2iob rules for the paper tokenizer, clinner's
 * otherwise). */
cl_status cli_prepare_doc(cl_doc *doc, const cli_input *in, cl_error *err);

/* Read in->path and prepare every document. */
cl_status cli_read_corpus(const cli_input *in, cl_corpus **out, cl_error *err);

/* Write c to path ("-" stdout; a directory for brat) in fmt, atomically.
 * With entities_from_tags, documents' entities are first replaced by those
 * decoded from their tags (for brat and jsonl output of a tagger). */
cl_status cli_write_corpus(cl_corpus *c, cl_format fmt, const char *path,
                           bool entities_from_tags, cl_error *err);

/* Parse a non-negative integer / a double option value; CL_ERR_ARG names it. */
cl_status cli_parse_int(const char *opt, const char *s, long min, long max, long *out,
                        cl_error *err);
cl_status cli_parse_double(const char *opt, const char *s, double min, double *out,
                           cl_error *err);

/* Whether nthreads llama.cpp threads (0: one per CPU) would share ncpu CPUs
 * with other work (load: the 1-minute load average before we start).  Its
 * threads spin while they wait for each other, so on busy CPUs more threads
 * are slower: `clinner tag` took 476 s for the 3-sentence demo with 2
 * threads on 2 busy cores and 7.6 s on idle ones. */
bool cli_threads_oversubscribed(double load, int ncpu, int nthreads);

#endif
