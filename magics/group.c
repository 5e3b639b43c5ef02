/*
 * group.c - `%group FACTOR: ARM ARM ...`: randomized assignment for the
 * room's experiment, recorded in the notebook's output.
 *
 * The draw is one of three kinds:
 *   seeded     --seed N, or a seed drawn from the system and printed, so
 *              that `--seed N` repeats it;
 *   by user    --by-user: a hash of $JUPYTERHUB_USER and the factor, so the
 *              same trainee gets the same arm on every re-run;
 *   balanced   --balanced DIR: the next arm of a permuted block (each arm
 *              twice, in random order) kept in DIR/FACTOR.json under an
 *              exclusive lock on DIR/FACTOR.lock, so that concurrent kernels
 *              of a room stay balanced. With --by-user as well, a trainee
 *              who was assigned before gets the same arm again.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "magics.h"

#define MAX_ARMS 16
#define EXAMPLE "e.g. %group augmentation: 1 2  or  %group dropout: A B --seed 7"

typedef struct spec {
    char factor[64];
    char arms[MAX_ARMS][32];
    int narms;
    bool has_seed, by_user;
    uint64_t seed;
    char balanced[1024];
} spec;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (h ^ 0xff) * 0x100000001b3ULL;   /* a separator between strings */
}

static uint64_t system_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
        s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return s % 1000000000ULL;   /* short enough to type back with --seed */
}

static bool word_ok(const char *w, bool ident)
{
    if (!*w || (ident && !(isalpha((unsigned char)*w) || *w == '_')))
        return false;
    for (; *w; w++)
        if (!(isalnum((unsigned char)*w) || *w == '_' || (!ident && (*w == '-' || *w == '.'))))
            return false;
    return true;
}

static bool parse_option(magic_ctx *mx, spec *sp, char **tok, char **save)
{
    if (strcmp(*tok, "--by-user") == 0) {
        sp->by_user = true;
        return true;
    }
    bool seed = strcmp(*tok, "--seed") == 0;
    if (!seed && strcmp(*tok, "--balanced") != 0)
        return magic_error(mx, "UsageError", "%%group does not know the option %s; it takes "
                           "--seed N, --by-user and --balanced DIR (%s)", *tok, EXAMPLE);
    char *val = strtok_r(NULL, " \t", save);
    if (!val)
        return magic_error(mx, "UsageError", "%s needs a value, e.g. %s", *tok,
                           seed ? "--seed 42" : "--balanced /srv/shared/room1");
    if (!seed) {
        snprintf(sp->balanced, sizeof sp->balanced, "%s", val);
        return true;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(val, &end, 10);
    if (*end || errno || val[0] == '-')
        return magic_error(mx, "UsageError", "--seed needs a whole number >= 0, got %s", val);
    sp->has_seed = true;
    sp->seed = v;
    return true;
}

/* "FACTOR: ARM ARM ... [options]" */
static bool parse_spec(magic_ctx *mx, const char *args, spec *sp)
{
    const char *colon = strchr(args, ':');
    size_t flen = colon ? (size_t)(colon - args) : 0;
    while (flen && isspace((unsigned char)args[flen - 1]))
        flen--;
    if (!colon || flen == 0 || flen >= sizeof sp->factor)
        return magic_error(mx, "UsageError", "%%group needs a factor, a colon and its arms, "
                           "%s", EXAMPLE);
    snprintf(sp->factor, sizeof sp->factor, "%.*s", (int)flen, args);
    if (!word_ok(sp->factor, true))
        return magic_error(mx, "UsageError", "the factor \"%s\" must be one word (letters, "
                           "digits, _), because it becomes a variable; %s", sp->factor, EXAMPLE);
    char *rest = strdup(colon + 1), *save = NULL;
    bool ok = rest != NULL;
    for (char *tok = ok ? strtok_r(rest, " \t", &save) : NULL; ok && tok;
         tok = strtok_r(NULL, " \t", &save)) {
        if (strncmp(tok, "--", 2) == 0)
            ok = parse_option(mx, sp, &tok, &save);
        else if (sp->narms == MAX_ARMS || strlen(tok) >= sizeof sp->arms[0] || !word_ok(tok, false))
            ok = magic_error(mx, "UsageError", "\"%s\" is not a valid arm: arms are short "
                             "words such as 1, 2, A or B (at most %d); %s", tok, MAX_ARMS, EXAMPLE);
        else
            snprintf(sp->arms[sp->narms++], sizeof sp->arms[0], "%s", tok);
    }
    free(rest);
    if (ok && sp->narms < 2)
        ok = magic_error(mx, "UsageError", "%%group %s needs at least two arms to choose "
                         "from; %s", sp->factor, EXAMPLE);
    for (int i = 0; ok && i < sp->narms; i++)
        for (int j = 0; ok && j < i; j++)
            if (strcmp(sp->arms[i], sp->arms[j]) == 0)
                ok = magic_error(mx, "UsageError", "the arm %s is listed twice; %s",
                                 sp->arms[i], EXAMPLE);
    return ok;
}

/* ---- balanced draws from a shared folder ---- */

static void block_new(const spec *sp, uint64_t *rng, json_t *block)
{
    int n = 2 * sp->narms, order[2 * MAX_ARMS];
    for (int i = 0; i < n; i++)
        order[i] = i % sp->narms;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(splitmix64(rng) % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    json_array_clear(block);
    for (int i = 0; i < n; i++)
        json_array_append_new(block, json_string(sp->arms[order[i]]));
}

static bool state_arms_match(const spec *sp, json_t *st)
{
    json_t *arms = json_object_get(st, "arms");
    if (json_array_size(arms) != (size_t)sp->narms)
        return false;
    for (int i = 0; i < sp->narms; i++)
        if (!json_string_value(json_array_get(arms, (size_t)i))
            || strcmp(json_string_value(json_array_get(arms, (size_t)i)), sp->arms[i]) != 0)
            return false;
    return true;
}

static json_t *state_new(const spec *sp)
{
    json_t *arms = json_array();
    for (int i = 0; i < sp->narms; i++)
        json_array_append_new(arms, json_string(sp->arms[i]));
    return json_pack("{s:s, s:o, s:[], s:i, s:i, s:{}}", "factor", sp->factor, "arms", arms,
                     "block", "next", 0, "assigned", 0, "users");
}

/* Take the next arm from the state (drawing a new block when needed). */
static const char *state_draw(const spec *sp, json_t *st, uint64_t *rng, const char *user)
{
    json_t *users = json_object_get(st, "users");
    if (user && json_string_value(json_object_get(users, user)))
        return json_string_value(json_object_get(users, user));
    json_t *block = json_object_get(st, "block");
    json_int_t next = json_integer_value(json_object_get(st, "next"));
    if (next >= (json_int_t)json_array_size(block)) {
        block_new(sp, rng, block);
        next = 0;
    }
    const char *arm = json_string_value(json_array_get(block, (size_t)next));
    json_object_set_new(st, "next", json_integer(next + 1));
    json_object_set_new(st, "assigned",
                        json_integer(json_integer_value(json_object_get(st, "assigned")) + 1));
    if (user && arm)
        json_object_set_new(users, user, json_string(arm));
    return arm;
}

static bool balanced_draw(magic_ctx *mx, const spec *sp, uint64_t seed, const char *user,
                          char *arm, size_t armlen, long long *position)
{
    char lock[1200], file[1200], tmp[1300];
    snprintf(lock, sizeof lock, "%s/%s.lock", sp->balanced, sp->factor);
    snprintf(file, sizeof file, "%s/%s.json", sp->balanced, sp->factor);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", file, (long)getpid());
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return magic_error(mx, "OSError", "cannot use the shared folder %s for --balanced (%s); "
                           "it must exist and be writable by every trainee", sp->balanced,
                           strerror(errno));
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    json_t *st = json_load_file(file, 0, NULL);
    bool ok = true;
    if (st && !state_arms_match(sp, st))
        ok = magic_error(mx, "ValueError", "%s was set up for other arms of %s; use the same "
                         "arms as the rest of the room, or another folder", file, sp->factor);
    if (ok && !st && !(st = state_new(sp)))
        ok = magic_error(mx, "MemoryError", "out of memory");
    /* each block's order comes from the seed and the count so far */
    uint64_t rng = seed ^ (uint64_t)json_integer_value(json_object_get(st, "assigned"));
    const char *got = ok ? state_draw(sp, st, &rng, user) : NULL;
    if (ok && got) {
        snprintf(arm, armlen, "%s", got);
        *position = json_integer_value(json_object_get(st, "assigned"));
        if (json_dump_file(st, tmp, JSON_INDENT(1)) != 0 || rename(tmp, file) != 0)
            ok = magic_error(mx, "OSError", "cannot write %s; the assignment was not made",
                             file);
    } else if (ok) {
        ok = magic_error(mx, "ValueError", "%s is damaged; delete it to start afresh", file);
    }
    json_decref(st);
    flock(fd, LOCK_UN);
    close(fd);
    return ok;
}

/* ---- the magic ---- */

/* The module's words: Group 1/2 for augmentation, Subgroup A/B for dropout. */
static const char *arm_word(const char *factor)
{
    if (strcmp(factor, "augmentation") == 0)
        return "Group";
    if (strcmp(factor, "dropout") == 0)
        return "Subgroup";
    return NULL;
}

static bool bind_arm(magic_ctx *mx, const spec *sp, const char *arm)
{
    char use[80];
    snprintf(use, sizeof use, "use_%s", sp->factor);
    lang_value v = lang_string_from(arm);
    bool ok = lang_global_set(mx->session, sp->factor, v)
              && lang_global_set(mx->session, use, lang_bool(strcmp(arm, sp->arms[0]) == 0));
    lang_value_decref(v);
    return ok || magic_error(mx, "MemoryError", "out of memory");
}

static void announce(magic_ctx *mx, const spec *sp, const char *arm, const char *how,
                     uint64_t seed)
{
    const char *word = arm_word(sp->factor);
    if (word)
        sink_printf(mx->sink, "stdout", "You have been assigned to %s %s\n", word, arm);
    else
        sink_printf(mx->sink, "stdout", "You have been assigned to %s %s\n", sp->factor, arm);
    bool kept = strcmp(arm, sp->arms[0]) == 0;
    sink_printf(mx->sink, "stdout", "  %s = \"%s\", use_%s = %s (%s %s)\n", sp->factor, arm,
                sp->factor, kept ? "true" : "false", sp->factor, kept ? "kept" : "removed");
    time_t now = time(NULL);
    const char *fixed = getenv("SOURCE_DATE_EPOCH");
    if (fixed && *fixed)
        now = (time_t)strtoll(fixed, NULL, 10);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    sink_printf(mx->sink, "stdout", "  Record: factor %s, arms", sp->factor);
    for (int i = 0; i < sp->narms; i++)
        sink_printf(mx->sink, "stdout", " %s", sp->arms[i]);
    sink_printf(mx->sink, "stdout", ", arm %s, %s, seed %llu, %s\n", arm, how,
                (unsigned long long)seed, when);
}

static bool group_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)body;
    spec sp;
    memset(&sp, 0, sizeof sp);
    if (!parse_spec(mx, args, &sp))
        return false;
    const char *user = NULL;
    if (sp.by_user) {
        user = getenv("JUPYTERHUB_USER");
        if (!user || !*user)
            return magic_error(mx, "EnvironmentError", "--by-user needs the JupyterHub user "
                               "name, but JUPYTERHUB_USER is not set (this kernel is not "
                               "running under JupyterHub); use --seed N instead");
    }
    uint64_t seed = sp.has_seed ? sp.seed : user ? fnv1a(fnv1a(0xcbf29ce484222325ULL, user),
                                                       sp.factor) % 1000000000ULL
                                             : system_seed();
    char arm[32], how[1300];
    if (sp.balanced[0]) {
        long long position = 0;
        if (!balanced_draw(mx, &sp, seed, user, arm, sizeof arm, &position))
            return false;
        snprintf(how, sizeof how, "balanced draw %lld from %s%s%s", position, sp.balanced,
                 user ? " for user " : "", user ? user : "");
    } else {
        uint64_t rng = fnv1a(seed, sp.factor);
        snprintf(arm, sizeof arm, "%s", sp.arms[splitmix64(&rng) % (uint64_t)sp.narms]);
        snprintf(how, sizeof how, "%s%s", user ? "by user " : sp.has_seed ? "seeded" : "random",
                 user ? user : "");
    }
    if (!bind_arm(mx, &sp, arm))
        return false;
    announce(mx, &sp, arm, how, seed);
    return true;
}

const magic_def magic_group = {
    "group", "%group FACTOR: ARM ARM ... [--seed N] [--by-user] [--balanced DIR]",
    "Assigns you at random to one arm of the room's experiment and records it.\n"
    "\n"
    "  %group augmentation: 1 2    Group 1 keeps data augmentation, Group 2 removes it\n"
    "  %group dropout: A B         Subgroup A keeps the Dropout layer, Subgroup B removes it\n"
    "\n"
    "It prints \"You have been assigned to Group 2\" and binds two variables: the factor's\n"
    "name to the arm as a string (augmentation = \"2\") and use_FACTOR to true when the arm\n"
    "is the FIRST one listed (use_augmentation = false). By convention the first arm keeps\n"
    "the technique and the others remove it, so later cells can say\n"
    "`if (use_dropout) top.add(Dropout(0.5));` instead of being edited.\n"
    "\n"
    "The draw is recorded in the output (arms, arm, seed, time):\n"
    "  --seed N        repeat a draw exactly (without it a seed is drawn and printed)\n"
    "  --by-user       the same arm every time for the same JupyterHub user\n"
    "                  ($JUPYTERHUB_USER)\n"
    "  --balanced DIR  draw from a folder shared by the room, so the arms stay balanced:\n"
    "                  each block of 2 x arms trainees holds every arm twice in random\n"
    "                  order (safe when many kernels draw at once)\n"
    "%seed does not change the draw on purpose: a room that all runs `%seed 42` must still\n"
    "be split into groups.",
    group_run, true, false,
};
