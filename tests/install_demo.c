/*
 * install_demo.c - README's "use it from C" example, as a program: built by
 * tests/cli/install.sh against an installed clinner only (its headers, and
 * `pkg-config --cflags --libs clinner`), never against the source tree.  It
 * opens the default tagging session (the CRF with the model installed under
 * share/clinner), tags one text (argv[1], else the sentence) and
 * prints the model it loaded, then one line per entity:
 *     TYPE <tab> start <tab> end <tab> text      (code points)
 * Exit status 0 when it tagged, 1 on an error (the library's message).
 */
#include <clinner/clinner.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *text = argc > 1 ? argv[1]
                                : "Fabry disease is a rare inherited disorder that causes "
                                  "burning pain in the hands and feet.";
    cl_error err = {0};
    cl_tag_config cfg = cl_tag_config_default(); /* crf + the shipped model */
    cl_tag_session *s = NULL;
    cl_doc *doc = NULL;
    int rc = 1;

    if (cl_tag_session_open(&cfg, &s, &err) != CL_OK ||
        cl_doc_new("example", text, strlen(text), &doc, &err) != CL_OK ||
        cl_tag_session_tag_doc(s, doc, &err) != CL_OK) {
        fprintf(stderr, "install_demo: %s\n", err.msg);
        goto done;
    }
    printf("model\t%s\n", cl_tag_session_model(s));
    for (int32_t i = 0; i < doc->nentities; i++) {
        const cl_entity *e = &doc->entities[i];
        int32_t start = e->frags[0].start, end = e->frags[e->nfrags - 1].end;
        char *span = cl_doc_span_text(doc, start, end);
        printf("%s\t%d\t%d\t%s\n", e->type, (int)start, (int)end, span ? span : "?");
        free(span);
    }
    rc = 0;
done:
    cl_doc_free(doc);
    cl_tag_session_free(s);
    return rc;
}
