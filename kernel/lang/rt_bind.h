/*
 * rt_bind.h - the runtime's bindings into the cell language (kernel/lang/
 * rt_*.c), shared between their files. The prefix rtb_ ("runtime binding")
 * keeps them apart from the runtime's own rt_ names.
 *
 * Each file binds one concept and registers its types and builtins through
 * bind.h only: rt_tensor.c (tensor), rt_image.c (image, load_image, show),
 * rt_layer.c (layer and its constructors), rt_model.c (model, applications,
 * weights), rt_train.c (optimizer, history, compile/fit/evaluate/predict),
 * rt_data.c (augmenter, generator). rt_bind.c registers them all and holds
 * the helpers below.
 *
 * Objects and what their lang_object pointer owns:
 *   tensor     rt_tensor *   one reference (rt_tensor_release)
 *   image      rt_image *    the image (rt_image_free)
 *   layer      rtb_layer *   a model reference when attached
 *   model      rtb_model *   one rt_model reference
 *   optimizer  rt_optimizer_config *
 *   history    rt_history *
 *   augmenter  rtb_augmenter *
 *   generator  rtb_generator * the dataset(s)
 */
#ifndef HELLODL_RT_BIND_H
#define HELLODL_RT_BIND_H

#include <stdbool.h>
#include <stdint.h>

#include "bind.h"
#include "dataset.h"
#include "image.h"
#include "model.h"
#include "tensor.h"
#include "train.h"

extern const lang_type rtb_tensor_type, rtb_image_type, rtb_layer_type, rtb_model_type,
    rtb_optimizer_type, rtb_history_type, rtb_augmenter_type, rtb_generator_type;

/* A layer value: detached (made by Dense() etc., not yet added) or attached
 * to model.layers[index] of `model`. */
typedef struct rtb_layer {
    rt_model *model;          /* reference, or NULL while detached */
    int index;                /* in model.layers order */
    rt_layer_config cfg;      /* detached: what add() will build */
    int trainable;            /* detached: applied at add() */
    int in_ndim;              /* detached: Keras' input_shape, or 0 */
    int64_t in_shape[3];
} rtb_layer;

typedef struct rtb_model {
    rt_model *m;
    int metric_acc;           /* compile(metrics = "accuracy") */
} rtb_model;

typedef struct rtb_augmenter {
    rt_augment a;
    int has_seed;
    uint64_t seed;
} rtb_augmenter;

typedef struct rtb_generator {
    rt_dataset *ds;
    char *dir;
    rt_dataset_config cfg;    /* as created (classes NULL) */
    rt_dataset *plain;        /* lazily: the same files without random
                                 transforms, for validation */
} rtb_generator;

/* Registration of every runtime binding (registry.c calls it once), and a
 * switch for test programs that register stand-ins with the same names:
 * rtb_disable() before the first registration makes rtb_register() a no-op. */
void rtb_register(void);
void rtb_disable(void);

/* Per-file registration (called by rtb_register). */
void rtb_tensor_register(void);
void rtb_image_register(void);
void rtb_layer_register(void);
void rtb_model_register(void);
void rtb_train_register(void);
void rtb_data_register(void);

/* Model methods defined in rt_train.c (natives; listed by rt_model.c). */
bool rtb_model_compile(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                       lang_value *ret);
bool rtb_model_fit(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                   lang_value *ret);
bool rtb_model_evaluate(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                        lang_value *ret);
bool rtb_model_predict(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                       lang_value *ret);

/* The generator's dataset without random transforms (only rescale), made
 * on first use and kept (rt_data.c). Borrowed; NULL after raising. */
rt_dataset *rtb_generator_plain(lang_ctx *cx, rtb_generator *g);
/* Whether the generator's ImageDataGenerator makes random transforms. */
bool rtb_generator_augments(const rtb_generator *g);

/* ---- helpers (rt_bind.c) ---- */

/* Raise the runtime's last error as a cell error: `what` ("fit()") prefixes
 * rt_error_message(); the ename follows the status (MemoryError,
 * ValueError, OSError, RuntimeError...). After RT_ERR_DEVICE with the GPU
 * lost, first moves the session to the CPU (rt_device_recover) and writes
 * what was kept to stderr. Returns false. */
bool rtb_raise_status(lang_ctx *cx, rt_status st, const char *what);
/* The first time a model is made or trained while the session computes on
 * the GPU, one line saying so (and how to switch); nothing on the CPU. */
void rtb_device_notice(lang_ctx *cx);
/* `got` must be one of `choices` (NULL-terminated): else a ValueError
 * 'F() expects P to be one of "a", "b"; got "x" - did you mean "y"?'. */
bool rtb_check_choice(lang_ctx *cx, const char *fn, const char *param, const char *got,
                      const char *const *choices);
/* A list of 1..max positive ints (or one int when `scalar_ok`, repeated
 * max times) into out; *n gets the count. */
bool rtb_int_list(lang_ctx *cx, lang_value v, const char *fn, const char *param, int min_n,
                  int max_n, bool scalar_ok, int64_t *out, int *n);
/* Seeds for generators made without one: after seed(n), a reproducible
 * sequence; otherwise *has is false. */
uint64_t rtb_seed_next(bool *has);

/* Wrap values (new references; they steal their argument, and free it
 * when the wrapping fails). */
lang_value rtb_tensor_wrap(rt_tensor *t);
lang_value rtb_image_wrap(rt_image *img);
lang_value rtb_model_wrap(rt_model *m);
lang_value rtb_history_wrap(rt_history *h);
/* A handle on model.layers[index] (rt_layer.c; new reference). */
lang_value rtb_layer_attached(rt_model *m, int index);
/* model.add(layer): build a detached layer into the Sequential `seq` and
 * attach the value to it. */
bool rtb_layer_add(lang_ctx *cx, rt_model *seq, lang_value layer);
/* A tensor from a tensor or an image value (new reference), else a
 * TypeError naming fn and param. */
bool rtb_tensor_from_value(lang_ctx *cx, lang_value v, const char *fn, const char *param,
                           rt_tensor **out);
/* Arithmetic for tensor and image operands (the types' binary hook). */
bool rtb_arith(lang_ctx *cx, const char *op, lang_value a, lang_value b, lang_value *ret);
/* A list of floats (new reference). */
lang_value rtb_float_list(const double *v, int n);

#endif
