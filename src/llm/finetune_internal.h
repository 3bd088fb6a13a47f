/*
 * finetune_internal.h - the pieces of `clinner finetune` shared between its
 * files (and its tests): rendering a sentence into a training example,
 * tokenizing it with the byte range of every model token, packing examples
 * into training windows, and the GGUF helpers (F32 conversion, metadata
 * repair of saved models, memory estimate).
 */
#ifndef CLINNER_LLM_FINETUNE_INTERNAL_H
#define CLINNER_LLM_FINETUNE_INTERNAL_H

#include <llama.h>

#include "clinner/finetune.h"
#include "clinner/prompt.h"
#include "llm/llm_internal.h"

/* ---- examples (finetune_data.c) ---- */

/* Sentence sent of doc (doc->tags: gold) as a training example, rendered
 * with the llama backend's own chat formatting for model m. */
cl_status cl__ft_render_example(const cl_llama_model *m, const cl_prompt_builder *b, const cl_doc *doc,
                            int32_t sent, cl_ft_loss loss, cl_ft_example *ex, cl_error *err);

/* Tokenize text as a backend tokenizes a prompt (special tokens parsed, BOS
 * added when the model wants it) and give each token's end byte in text
 * (a BOS the tokenizer added, not in text, is empty).  Caller frees. */
cl_status cl__ft_tokenize(const struct llama_vocab *vocab, const char *text, size_t n,
                      llama_token **toks, int32_t *ntoks, size_t **ends, cl_error *err);
/* The same with a choice: parse_special false reads "<|im_start|>" in plain
 * text as the characters it is (document text). */
cl_status cl__ft_tokenize_text(const struct llama_vocab *vocab, const char *text, size_t n,
                           bool parse_special, llama_token **toks, int32_t *ntoks, size_t **ends,
                           cl_error *err);

/* A tokenized example: counted[i] tells whether predicting toks[i] from
 * toks[0..i) counts in the loss (counted[0] is always false); choice[i]
 * (NULL: none) is the first byte of the label ('O', 'B', 'I') when toks[i]
 * is the token where an answer line's label starts, FT_LABEL_MORE when it
 * is a later token of that label (the type: "-RARE", "DISEASE"), else 0. */
#define FT_LABEL_MORE '+'

typedef struct ft_seq {
    llama_token *toks;
    uint8_t *counted;
    int32_t n;
    uint8_t *choice;
} ft_seq;

void cl__ft_seq_free(ft_seq *s);
cl_status cl__ft_seq_from_example(const struct llama_vocab *vocab, const cl_ft_example *ex,
                              ft_seq *out, cl_error *err);

/* Training windows of n_ctx positions: tokens[w*(n_ctx+1) + i], i <= n_ctx
 * (position i reads tokens[i] and is trained to predict tokens[i+1] when
 * mask[w*n_ctx + i]); counted[w] = positions with the mask set. */
typedef struct ft_windows {
    int32_t n_ctx, n, cap;
    llama_token *tokens;
    uint8_t *mask;
    int32_t *counted;
    uint8_t *choice; /* [w*n_ctx + i]: the choice byte of the token position i predicts */
} ft_windows;

void cl__ft_windows_free(ft_windows *w);
/* Pack seqs (in the given order) into windows: whole examples, several per
 * window when pack, padding with pad_token (masked).  Examples longer than
 * n_ctx are left out and counted in *skipped. */
cl_status cl__ft_windows_pack(ft_windows *w, int32_t n_ctx, const ft_seq *seqs, const int32_t *order,
                          int32_t nseqs, bool pack, llama_token pad_token, int32_t *skipped,
                          cl_error *err);
/* Add window win's label choices to c, given the model's greedy next
 * token at each of its positions (pred[i]: the prediction of position i). */
void cl__ft_window_choices(const ft_windows *w, int32_t win, const int32_t *pred, cl_ft_choices *c);

/* The label row of window w for llama_opt_epoch: the next token where
 * counted, else a value that puts the row's one-hot 1 onto row 0's label
 * (see finetune.h). */
void cl__ft_window_labels(const ft_windows *w, int32_t win, int32_t n_vocab, int32_t *labels);

/* ---- model files (finetune_model.c) ---- */

/* Whether every tensor of the GGUF file is F32 (CL_ERR_MODEL if unreadable). */
cl_status cl__ft_gguf_is_f32(const char *path, bool *is_f32, cl_error *err);

/* 64-bit FNV-1a of a file's bytes (hex into out[17]). */
cl_status cl__ft_file_hash(const char *path, char out[17], cl_error *err);

/* Save model to path atomically, with the metadata the saver drops taken
 * from orig_path (chat template, context length, names).  chat_template,
 * when not NULL, is written as the model's template instead (a name
 * llama.cpp knows; CL_LLAMA_PLAIN_TEMPLATE_NAME: none), so that the saved
 * model is tagged in the format it was trained in. */
cl_status cl__ft_save_model(const struct llama_model *model, const char *orig_path, const char *path,
                        const char *chat_template, cl_error *err);

/* Which tensors train, by name (blk.N.*, output_norm.weight, ...). */
bool cl__ft_tensor_trains(const char *name, cl_ft_tensors kind, int32_t last_n, int32_t n_layer);

typedef struct ft_mem {
    int64_t n_params, n_trained;
    int64_t weights, optimizer, activations, logits, kv, total;
} ft_mem;

/* Estimate memory for training the F32 model at path with a window of n_ctx. */
cl_status cl__ft_estimate_memory(const char *path, cl_ft_tensors kind, int32_t last_n, int32_t n_ctx,
                             ft_mem *m, cl_error *err);

/* MemAvailable from /proc/meminfo in bytes (-1 when unknown). */
int64_t cl__ft_mem_available(void);

#endif
