/*
 * fuzz_lang.c - libFuzzer target for the cell language: lexer, parser,
 * evaluator, and the is_complete / complete / inspect helpers, on one
 * session that lives across inputs (as a kernel's does).
 *
 * The sink refuses input() and swallows output; display_png() and path
 * completion are kept off the filesystem by a data path that does not
 * exist and by running in an empty directory; the runtime's builtins
 * (which read and write files) are not registered. A step budget and small
 * value limits turn runaway loops and allocations into errors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lang.h"
#include "rt_bind.h"        /* rtb_disable: no runtime builtins while fuzzing */

static void f_stream(void *ctx, const char *name, const char *text, size_t len)
{
    (void)ctx; (void)name; (void)text; (void)len;
}

static void f_display(void *ctx, const lang_bundle *b, const char *id, bool update)
{
    (void)ctx; (void)b; (void)id; (void)update;
}

static char *f_input(void *ctx, const char *prompt, bool password, const char **why)
{
    (void)ctx; (void)prompt; (void)password;
    *why = "input is disabled while fuzzing";
    return NULL;
}

static const lang_sink fuzz_sink = { NULL, f_stream, f_display, NULL, f_input };
static lang_session *session;
static int cells;

static lang_config session_config(void)
{
    lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_steps = 20000;
    cfg.max_value_bytes = 8 << 20;
    cfg.max_string_bytes = 1 << 16;
    cfg.max_list_items = 1 << 14;
    cfg.max_call_depth = 200;
    cfg.data_path = "/nonexistent-hellodl-fuzz";
    return cfg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!session) {
        char dir[] = "/tmp/hellodl_fuzz_XXXXXX";
        if (mkdtemp(dir) && chdir(dir) != 0) abort();
        rtb_disable();
        lang_config cfg = session_config();
        session = lang_session_new(&cfg);
    }
    if (size > 1 << 16) return 0;
    char *src = malloc(size + 1);
    if (!src) return 0;
    memcpy(src, data, size);
    src[size] = 0;
    const char *indent;
    lang_is_complete(src, &indent);
    lang_completion c;
    lang_complete(session, src, size / 2, &c);
    lang_completion_free(&c);
    free(lang_inspect(session, src, size / 3, 0));
    lang_result r;
    lang_exec_cell(session, src, ++cells, &fuzz_sink, &r);
    lang_result_free(&r);
    if (cells % 1000 == 0) {           /* a fresh session now and then keeps it bounded */
        lang_config cfg = session_config();
        lang_session_free(session);
        session = lang_session_new(&cfg);
    }
    free(src);
    return 0;
}
