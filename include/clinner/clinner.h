/*
 * clinner.h - the whole public API in one include: every header under
 * include/clinner/.  A program that tags text needs only session.h (the
 * tagging session) and doc.h; this header is for those who want it all:
 *
 *     #include <clinner/clinner.h>      // cc prog.c $(pkg-config --cflags --libs clinner)
 *
 * The functions that need llama.cpp (llm.h, finetune.h, features.h,
 * encoder.h) are declared whatever the build, but a library built without
 * llama.cpp does not have them (`clinner --version` says how it was built),
 * nor the tagging session's "llama" and "encoder" backends.  cl_version()
 * (in common.h) is the version of the library actually linked.
 */
#ifndef CLINNER_CLINNER_H
#define CLINNER_CLINNER_H

#include "clinner/common.h"
#include "clinner/util.h"
#include "clinner/binfile.h"
#include "clinner/labels.h"
#include "clinner/text.h"
#include "clinner/progress.h"
#include "clinner/doc.h"
#include "clinner/corpus.h"
#include "clinner/tokenize.h"
#include "clinner/tagger.h"
#include "clinner/eval.h"
#include "clinner/crf.h"
#include "clinner/prompt.h"
#include "clinner/retrieve.h"
#include "clinner/llm.h"
#include "clinner/features.h"
#include "clinner/finetune.h"
#include "clinner/encoder.h"
#include "clinner/ensemble.h"
#include "clinner/openai.h"
#include "clinner/run.h"
#include "clinner/session.h"
#include "clinner/serve.h"

#endif
