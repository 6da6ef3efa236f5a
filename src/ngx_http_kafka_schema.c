
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#define PCRE2_CODE_UNIT_WIDTH  8

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <pcre2.h>

#include "ngx_http_kafka_schema.h"


/*
 * How a schema is compiled.
 *
 * The scan walks a document through the keywords that hold subschemas and
 * gives every schema object a node (one node per json_t, found again
 * through a pointer map, so that a cycle of $refs ends), noting its base
 * URI, its schema resource and its draft.  $id makes a resource, $anchor
 * and $dynamicAnchor (draft-07: "$id": "#name") make anchors.  The link
 * then resolves each $ref and $dynamicRef against the resources and
 * anchors, loading a document it lacks through options->load, whose nodes
 * join the list being linked.  A JSON pointer into a place the scan did
 * not visit (a keyword the validator does not know) is scanned then.
 *
 * Validation: a node's keywords in a fixed order, in-place applicators
 * before unevaluated*; those see which properties or items the node's
 * other keywords and its valid in-place subschemas evaluated, kept in a
 * bitmap over the instance's keys or items ("eval"), made only where a
 * node has unevaluated* and passed down through in-place applicators.
 * Errors are reported only outside anyOf, oneOf, not, if and contains,
 * which report once for themselves; the dynamic scope (the resources
 * entered, outermost first) serves $dynamicRef.
 */


#define NGX_HTTP_KAFKA_SCHEMA_T_NULL      0x01
#define NGX_HTTP_KAFKA_SCHEMA_T_BOOLEAN   0x02
#define NGX_HTTP_KAFKA_SCHEMA_T_OBJECT    0x04
#define NGX_HTTP_KAFKA_SCHEMA_T_ARRAY     0x08
#define NGX_HTTP_KAFKA_SCHEMA_T_NUMBER    0x10
#define NGX_HTTP_KAFKA_SCHEMA_T_STRING    0x20
#define NGX_HTTP_KAFKA_SCHEMA_T_INTEGER   0x40

#define NGX_HTTP_KAFKA_SCHEMA_MAX_DEPTH   256
#define NGX_HTTP_KAFKA_SCHEMA_PATH        1024
#define NGX_HTTP_KAFKA_SCHEMA_DEFAULT_BASE  "urn:x-kafka-gateway:schema"


typedef struct ngx_http_kafka_schema_node_s  ngx_http_kafka_schema_node_t;
typedef struct ngx_http_kafka_schema_resource_s
    ngx_http_kafka_schema_resource_t;


typedef struct ngx_http_kafka_schema_mem_s {
    struct ngx_http_kafka_schema_mem_s  *next;
    union {
        long double                    ld;
        void                          *p;
        int64_t                        i;
    } data[1];
} ngx_http_kafka_schema_mem_t;


typedef struct ngx_http_kafka_schema_regex_s {
    struct ngx_http_kafka_schema_regex_s  *next;
    pcre2_code                            *code;
    const char                            *source;
} ngx_http_kafka_schema_regex_t;


typedef struct ngx_http_kafka_schema_anchor_s {
    struct ngx_http_kafka_schema_anchor_s  *next;
    char                                   *uri;      /* base#name */
    const char                             *name;
    json_t                                 *target;
    ngx_http_kafka_schema_resource_t       *resource;
    int                                     dynamic;
} ngx_http_kafka_schema_anchor_t;


struct ngx_http_kafka_schema_resource_s {
    ngx_http_kafka_schema_resource_t  *next;
    char                              *uri;
    json_t                            *root;
    int                                draft;
};


typedef struct {
    const char                        *name;
    ngx_http_kafka_schema_node_t      *node;
} ngx_http_kafka_schema_prop_t;


typedef struct {
    ngx_http_kafka_schema_regex_t     *re;
    ngx_http_kafka_schema_node_t      *node;
} ngx_http_kafka_schema_pattern_t;


typedef struct {
    const char                        *name;
    json_t                            *required;    /* array of strings */
    ngx_http_kafka_schema_node_t      *node;
} ngx_http_kafka_schema_dep_t;


typedef struct {
    ngx_http_kafka_schema_node_t     **elts;
    size_t                             n;
} ngx_http_kafka_schema_list_t;


struct ngx_http_kafka_schema_node_s {
    json_t                            *json;
    const char                        *base;
    ngx_http_kafka_schema_resource_t  *resource;
    int                                draft;

    unsigned                           boolean:1;
    unsigned                           value:1;     /* of a boolean */
    unsigned                           unique_items:1;
    unsigned                           ref_only:1;  /* draft-07 $ref */

    unsigned                           types;
    json_t                            *const_value;
    json_t                            *enum_values;

    json_t                            *minimum;
    json_t                            *maximum;
    json_t                            *exclusive_minimum;
    json_t                            *exclusive_maximum;
    json_t                            *multiple_of;

    long                               min_length;  /* -1: none */
    long                               max_length;
    long                               min_items;
    long                               max_items;
    long                               min_properties;
    long                               max_properties;
    long                               min_contains;
    long                               max_contains;

    ngx_http_kafka_schema_regex_t     *pattern;
    const char                        *format;

    ngx_http_kafka_schema_list_t       prefix_items;
    ngx_http_kafka_schema_node_t      *items;       /* after the prefix */
    ngx_http_kafka_schema_node_t      *contains;
    ngx_http_kafka_schema_node_t      *unevaluated_items;

    ngx_http_kafka_schema_prop_t      *props;
    size_t                             nprops;
    json_t                            *prop_index;  /* name: index */
    ngx_http_kafka_schema_pattern_t   *patterns;
    size_t                             npatterns;
    ngx_http_kafka_schema_node_t      *additional_properties;
    ngx_http_kafka_schema_node_t      *property_names;
    ngx_http_kafka_schema_node_t      *unevaluated_properties;
    json_t                            *required;
    ngx_http_kafka_schema_dep_t       *deps;
    size_t                             ndeps;

    ngx_http_kafka_schema_list_t       all_of;
    ngx_http_kafka_schema_list_t       any_of;
    ngx_http_kafka_schema_list_t       one_of;
    ngx_http_kafka_schema_node_t      *not;
    ngx_http_kafka_schema_node_t      *if_;
    ngx_http_kafka_schema_node_t      *then_;
    ngx_http_kafka_schema_node_t      *else_;

    const char                        *ref;
    ngx_http_kafka_schema_node_t      *ref_node;
    const char                        *dynamic_ref;
    ngx_http_kafka_schema_node_t      *dynamic_ref_node;
    const char                        *dynamic_name;  /* bookended */
};


struct ngx_http_kafka_schema_s {
    ngx_http_kafka_schema_options_t    options;
    ngx_http_kafka_schema_node_t      *root;
    ngx_http_kafka_schema_node_t       true_node;
    ngx_http_kafka_schema_node_t       false_node;

    ngx_http_kafka_schema_mem_t       *mem;
    ngx_http_kafka_schema_resource_t  *resources;
    ngx_http_kafka_schema_anchor_t    *anchors;
    ngx_http_kafka_schema_regex_t     *regexes;
    pcre2_match_data                  *match;

    json_t                            *docs;       /* array: owned */

    /* json_t * -> node, open addressing */
    json_t                           **map_keys;
    ngx_http_kafka_schema_node_t     **map_values;
    size_t                             map_size;
    size_t                             map_count;

    /* every node, in scan order: the link's work list */
    ngx_http_kafka_schema_node_t     **nodes;
    size_t                             nnodes;
    size_t                             nodes_size;

    /* compile errors: where the scan is, what went wrong */
    char                               path[NGX_HTTP_KAFKA_SCHEMA_PATH];
    size_t                             path_len;
    char                              *err;
    size_t                             err_len;
    int                                failed;
};


/* an instance's evaluated keys or items, for unevaluated* */
typedef struct {
    size_t                             n;
    uint64_t                          *bits;
    uint64_t                           small[4];
} ngx_http_kafka_schema_eval_t;


typedef struct {
    const char                        *key;     /* NULL: an index */
    size_t                             index;
} ngx_http_kafka_schema_seg_t;


typedef struct {
    ngx_http_kafka_schema_t           *schema;
    ngx_http_kafka_schema_error_pt     error;
    void                              *data;
    size_t                             max_errors;
    size_t                             nerrors;
    int                                formats;
    int                                collect;
    int                                full;
    int                                depth;
    int                                nscope;
    size_t                             npath;
    ngx_http_kafka_schema_resource_t  *scope[NGX_HTTP_KAFKA_SCHEMA_MAX_DEPTH];
    ngx_http_kafka_schema_seg_t        path[NGX_HTTP_KAFKA_SCHEMA_MAX_DEPTH];
} ngx_http_kafka_schema_ctx_t;


static void *ngx_http_kafka_schema_alloc(ngx_http_kafka_schema_t *s,
    size_t size);
static char *ngx_http_kafka_schema_strdup(ngx_http_kafka_schema_t *s,
    const char *str, size_t len);
static void ngx_http_kafka_schema_fail(ngx_http_kafka_schema_t *s,
    const char *fmt, ...);
static size_t ngx_http_kafka_schema_path_push(ngx_http_kafka_schema_t *s,
    const char *seg, long index);
static int ngx_http_kafka_schema_map_put(ngx_http_kafka_schema_t *s,
    json_t *key, ngx_http_kafka_schema_node_t *node);
static ngx_http_kafka_schema_node_t *ngx_http_kafka_schema_map_get(
    ngx_http_kafka_schema_t *s, json_t *key);
static char *ngx_http_kafka_schema_uri_resolve(const char *base,
    const char *ref);
static ngx_http_kafka_schema_resource_t *ngx_http_kafka_schema_resource_add(
    ngx_http_kafka_schema_t *s, const char *uri, json_t *root, int draft);
static ngx_http_kafka_schema_resource_t *ngx_http_kafka_schema_resource_find(
    ngx_http_kafka_schema_t *s, const char *uri);
static int ngx_http_kafka_schema_anchor_add(ngx_http_kafka_schema_t *s,
    const char *base, const char *name, json_t *target,
    ngx_http_kafka_schema_resource_t *res, int dynamic);
static ngx_http_kafka_schema_anchor_t *ngx_http_kafka_schema_anchor_find(
    ngx_http_kafka_schema_t *s, const char *uri);
static int ngx_http_kafka_schema_draft(const char *uri, int dflt);
static ngx_http_kafka_schema_node_t *ngx_http_kafka_schema_scan(
    ngx_http_kafka_schema_t *s, json_t *j, const char *base,
    ngx_http_kafka_schema_resource_t *res, int draft, int root);
static int ngx_http_kafka_schema_scan_keyword(ngx_http_kafka_schema_t *s,
    ngx_http_kafka_schema_node_t *n, const char *key, json_t *v);
static ngx_http_kafka_schema_node_t *ngx_http_kafka_schema_sub(
    ngx_http_kafka_schema_t *s, ngx_http_kafka_schema_node_t *n,
    const char *key, long index, json_t *v);
static int ngx_http_kafka_schema_sub_list(ngx_http_kafka_schema_t *s,
    ngx_http_kafka_schema_node_t *n, const char *key, json_t *v,
    ngx_http_kafka_schema_list_t *list, int nonempty);
static int ngx_http_kafka_schema_sub_map(ngx_http_kafka_schema_t *s,
    ngx_http_kafka_schema_node_t *n, const char *key, json_t *v);
static int ngx_http_kafka_schema_count(ngx_http_kafka_schema_t *s,
    const char *key, json_t *v, long *out);
static int ngx_http_kafka_schema_strings(ngx_http_kafka_schema_t *s,
    const char *key, json_t *v);
static ngx_http_kafka_schema_regex_t *ngx_http_kafka_schema_regex(
    ngx_http_kafka_schema_t *s, const char *key, const char *source);
static int ngx_http_kafka_schema_link(ngx_http_kafka_schema_t *s);
static ngx_http_kafka_schema_node_t *ngx_http_kafka_schema_resolve(
    ngx_http_kafka_schema_t *s, ngx_http_kafka_schema_node_t *n,
    const char *ref, ngx_http_kafka_schema_anchor_t **anchor);
static ngx_http_kafka_schema_resource_t *ngx_http_kafka_schema_load(
    ngx_http_kafka_schema_t *s, const char *uri);
static json_t *ngx_http_kafka_schema_pointer(json_t *root, const char *frag);

static int ngx_http_kafka_schema_check(ngx_http_kafka_schema_ctx_t *ctx,
    ngx_http_kafka_schema_node_t *n, json_t *inst,
    ngx_http_kafka_schema_eval_t *ev);
static int ngx_http_kafka_schema_check_body(
    ngx_http_kafka_schema_ctx_t *ctx, ngx_http_kafka_schema_node_t *n,
    json_t *inst, ngx_http_kafka_schema_eval_t *ev);
static int ngx_http_kafka_schema_check_value(
    ngx_http_kafka_schema_ctx_t *ctx, ngx_http_kafka_schema_node_t *n,
    json_t *inst);
static int ngx_http_kafka_schema_check_array(
    ngx_http_kafka_schema_ctx_t *ctx, ngx_http_kafka_schema_node_t *n,
    json_t *inst, ngx_http_kafka_schema_eval_t *ev);
static int ngx_http_kafka_schema_check_object(
    ngx_http_kafka_schema_ctx_t *ctx, ngx_http_kafka_schema_node_t *n,
    json_t *inst, ngx_http_kafka_schema_eval_t *ev);
static int ngx_http_kafka_schema_check_applicators(
    ngx_http_kafka_schema_ctx_t *ctx, ngx_http_kafka_schema_node_t *n,
    json_t *inst, ngx_http_kafka_schema_eval_t *ev);
static int ngx_http_kafka_schema_check_unevaluated(
    ngx_http_kafka_schema_ctx_t *ctx, ngx_http_kafka_schema_node_t *n,
    json_t *inst, ngx_http_kafka_schema_eval_t *ev);
static int ngx_http_kafka_schema_check_child(
    ngx_http_kafka_schema_ctx_t *ctx, ngx_http_kafka_schema_node_t *n,
    json_t *inst, const char *key, size_t index);
static ngx_http_kafka_schema_node_t *ngx_http_kafka_schema_dynamic(
    ngx_http_kafka_schema_ctx_t *ctx, ngx_http_kafka_schema_node_t *n);
static void ngx_http_kafka_schema_report(ngx_http_kafka_schema_ctx_t *ctx,
    const char *key, const char *keyword, const char *fmt, ...);

static int ngx_http_kafka_schema_eval_init(ngx_http_kafka_schema_eval_t *ev,
    json_t *inst);
static void ngx_http_kafka_schema_eval_set(ngx_http_kafka_schema_eval_t *ev,
    size_t i);
static int ngx_http_kafka_schema_eval_get(ngx_http_kafka_schema_eval_t *ev,
    size_t i);
static void ngx_http_kafka_schema_eval_merge(
    ngx_http_kafka_schema_eval_t *dst, ngx_http_kafka_schema_eval_t *src);
static void ngx_http_kafka_schema_eval_free(
    ngx_http_kafka_schema_eval_t *ev);

static unsigned ngx_http_kafka_schema_type(json_t *v);
static const char *ngx_http_kafka_schema_type_name(json_t *v);
static int ngx_http_kafka_schema_equal(json_t *a, json_t *b);
static int ngx_http_kafka_schema_compare(json_t *a, json_t *b);
static int ngx_http_kafka_schema_multiple(json_t *v, json_t *d);
static void ngx_http_kafka_schema_number_text(json_t *v, char *buf,
    size_t len);
static size_t ngx_http_kafka_schema_utf8_length(const char *s, size_t len);


static const struct {
    const char  *name;
    unsigned     mask;
} ngx_http_kafka_schema_types[] = {
    { "null",    NGX_HTTP_KAFKA_SCHEMA_T_NULL },
    { "boolean", NGX_HTTP_KAFKA_SCHEMA_T_BOOLEAN },
    { "object",  NGX_HTTP_KAFKA_SCHEMA_T_OBJECT },
    { "array",   NGX_HTTP_KAFKA_SCHEMA_T_ARRAY },
    { "number",  NGX_HTTP_KAFKA_SCHEMA_T_NUMBER },
    { "string",  NGX_HTTP_KAFKA_SCHEMA_T_STRING },
    { "integer", NGX_HTTP_KAFKA_SCHEMA_T_INTEGER },
    { NULL, 0 }
};


ngx_http_kafka_schema_t *
ngx_http_kafka_schema_compile(json_t *doc,
    ngx_http_kafka_schema_options_t *options, char *err, size_t len)
{
    const char                        *base;
    ngx_http_kafka_schema_t           *s;
    ngx_http_kafka_schema_resource_t  *res;

    s = calloc(1, sizeof(ngx_http_kafka_schema_t));
    if (s == NULL) {
        snprintf(err, len, "out of memory");
        return NULL;
    }

    s->options = *options;
    s->err = err;
    s->err_len = len;

    if (s->options.draft != NGX_HTTP_KAFKA_SCHEMA_DRAFT7) {
        s->options.draft = NGX_HTTP_KAFKA_SCHEMA_DRAFT2020;
    }

    s->true_node.boolean = 1;
    s->true_node.value = 1;
    s->false_node.boolean = 1;

    s->docs = json_array();
    s->match = pcre2_match_data_create(1, NULL);

    if (s->docs == NULL || s->match == NULL) {
        snprintf(err, len, "out of memory");
        goto failed;
    }

    base = options->base ? options->base : NGX_HTTP_KAFKA_SCHEMA_DEFAULT_BASE;

    json_array_append(s->docs, doc);

    if (options->document != NULL) {
        json_array_append(s->docs, options->document);
    }

    res = ngx_http_kafka_schema_resource_add(s, base,
                                             options->document
                                             ? options->document : doc,
                                             s->options.draft);
    if (res == NULL) {
        goto failed;
    }

    s->root = ngx_http_kafka_schema_scan(s, doc, res->uri, res,
                                         s->options.draft,
                                         options->document == NULL);

    if (s->root == NULL || ngx_http_kafka_schema_link(s) != 0) {
        goto failed;
    }

    free(s->nodes);
    s->nodes = NULL;
    s->err = NULL;

    return s;

failed:

    if (!s->failed && err[0] == '\0') {
        snprintf(err, len, "out of memory");
    }

    ngx_http_kafka_schema_free(s);

    return NULL;
}


json_t *
ngx_http_kafka_schema_json(ngx_http_kafka_schema_t *s, json_t **document)
{
    *document = s->options.document ? s->options.document
                                    : json_array_get(s->docs, 0);

    return json_array_get(s->docs, 0);
}


void
ngx_http_kafka_schema_free(ngx_http_kafka_schema_t *s)
{
    ngx_http_kafka_schema_mem_t    *m, *next;
    ngx_http_kafka_schema_regex_t  *re;

    if (s == NULL) {
        return;
    }

    for (re = s->regexes; re; re = re->next) {
        pcre2_code_free(re->code);
    }

    for (m = s->mem; m; m = next) {
        next = m->next;
        free(m);
    }

    if (s->match) {
        pcre2_match_data_free(s->match);
    }

    json_decref(s->docs);
    free(s->map_keys);
    free(s->map_values);
    free(s->nodes);
    free(s);
}


static void *
ngx_http_kafka_schema_alloc(ngx_http_kafka_schema_t *s, size_t size)
{
    ngx_http_kafka_schema_mem_t  *m;

    m = calloc(1, offsetof(ngx_http_kafka_schema_mem_t, data) + size);
    if (m == NULL) {
        return NULL;
    }

    m->next = s->mem;
    s->mem = m;

    return m->data;
}


static char *
ngx_http_kafka_schema_strdup(ngx_http_kafka_schema_t *s, const char *str,
    size_t len)
{
    char  *p;

    p = ngx_http_kafka_schema_alloc(s, len + 1);
    if (p != NULL) {
        memcpy(p, str, len);
    }

    return p;
}


/* a compile error: "/properties/id/pattern: ..." */

static void
ngx_http_kafka_schema_fail(ngx_http_kafka_schema_t *s, const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (s->failed) {
        return;
    }

    s->failed = 1;

    n = snprintf(s->err, s->err_len, "%s: ",
                 s->path_len ? s->path : "(root)");

    if (n < 0 || (size_t) n >= s->err_len) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(s->err + n, s->err_len - n, fmt, args);
    va_end(args);
}


/* appends "/seg" or "/index" to the path; returns the length to restore */

static size_t
ngx_http_kafka_schema_path_push(ngx_http_kafka_schema_t *s, const char *seg,
    long index)
{
    size_t  old;
    int     n;

    old = s->path_len;

    if (seg != NULL) {
        n = snprintf(s->path + old, sizeof(s->path) - old, "/%s", seg);

    } else {
        n = snprintf(s->path + old, sizeof(s->path) - old, "/%ld", index);
    }

    if (n > 0) {
        s->path_len += n;

        if (s->path_len >= sizeof(s->path)) {
            s->path_len = sizeof(s->path) - 1;
        }
    }

    return old;
}


static size_t
ngx_http_kafka_schema_hash(json_t *key, size_t size)
{
    uintptr_t  h;

    h = (uintptr_t) key;
    h ^= h >> 17;
    h *= 0x9e3779b97f4a7c15ULL;

    return (size_t) (h >> 7) & (size - 1);
}


static int
ngx_http_kafka_schema_map_put(ngx_http_kafka_schema_t *s, json_t *key,
    ngx_http_kafka_schema_node_t *node)
{
    size_t                          i, size, old;
    json_t                        **keys;
    ngx_http_kafka_schema_node_t  **values, **nodes;

    if (s->nnodes == s->nodes_size) {
        size = s->nodes_size ? 2 * s->nodes_size : 64;
        nodes = realloc(s->nodes,
                        size * sizeof(ngx_http_kafka_schema_node_t *));
        if (nodes == NULL) {
            return -1;
        }

        s->nodes = nodes;
        s->nodes_size = size;
    }

    s->nodes[s->nnodes++] = node;

    if (2 * (s->map_count + 1) > s->map_size) {
        old = s->map_size;
        size = old ? 2 * old : 64;

        keys = calloc(size, sizeof(json_t *));
        values = calloc(size, sizeof(ngx_http_kafka_schema_node_t *));

        if (keys == NULL || values == NULL) {
            free(keys);
            free(values);
            return -1;
        }

        for (i = 0; i < old; i++) {
            if (s->map_keys[i] != NULL) {
                size_t  h = ngx_http_kafka_schema_hash(s->map_keys[i], size);

                while (keys[h] != NULL) {
                    h = (h + 1) & (size - 1);
                }

                keys[h] = s->map_keys[i];
                values[h] = s->map_values[i];
            }
        }

        free(s->map_keys);
        free(s->map_values);
        s->map_keys = keys;
        s->map_values = values;
        s->map_size = size;
    }

    i = ngx_http_kafka_schema_hash(key, s->map_size);

    while (s->map_keys[i] != NULL) {
        i = (i + 1) & (s->map_size - 1);
    }

    s->map_keys[i] = key;
    s->map_values[i] = node;
    s->map_count++;

    return 0;
}


static ngx_http_kafka_schema_node_t *
ngx_http_kafka_schema_map_get(ngx_http_kafka_schema_t *s, json_t *key)
{
    size_t  i;

    if (s->map_size == 0) {
        return NULL;
    }

    i = ngx_http_kafka_schema_hash(key, s->map_size);

    while (s->map_keys[i] != NULL) {
        if (s->map_keys[i] == key) {
            return s->map_values[i];
        }

        i = (i + 1) & (s->map_size - 1);
    }

    return NULL;
}


/* URI references (RFC 3986, section 5) */

typedef struct {
    const char  *scheme;
    size_t       scheme_len;
    const char  *authority;       /* NULL: none */
    size_t       authority_len;
    const char  *path;
    size_t       path_len;
    const char  *query;           /* NULL: none */
    size_t       query_len;
    const char  *fragment;        /* NULL: none */
    size_t       fragment_len;
} ngx_http_kafka_schema_uri_t;


static void
ngx_http_kafka_schema_uri_parse(const char *u, ngx_http_kafka_schema_uri_t *p)
{
    const char  *c, *end;

    memset(p, 0, sizeof(*p));

    end = u + strlen(u);

    for (c = u; c < end; c++) {
        if (*c == ':' || *c == '/' || *c == '?' || *c == '#') {
            break;
        }
    }

    if (c < end && *c == ':' && c > u) {
        p->scheme = u;
        p->scheme_len = c - u;
        u = c + 1;
    }

    if (u[0] == '/' && u[1] == '/') {
        u += 2;
        for (c = u; c < end && *c != '/' && *c != '?' && *c != '#'; c++) {
            /* void */
        }

        p->authority = u;
        p->authority_len = c - u;
        u = c;
    }

    for (c = u; c < end && *c != '?' && *c != '#'; c++) { /* void */ }

    p->path = u;
    p->path_len = c - u;
    u = c;

    if (u < end && *u == '?') {
        for (c = u + 1; c < end && *c != '#'; c++) { /* void */ }
        p->query = u + 1;
        p->query_len = c - u - 1;
        u = c;
    }

    if (u < end && *u == '#') {
        p->fragment = u + 1;
        p->fragment_len = end - u - 1;
    }
}


/* removes "." and ".." segments of a path in place (RFC 3986, 5.2.4) */

static size_t
ngx_http_kafka_schema_uri_dots(char *path, size_t len)
{
    char  *in, *end, *out, *seg;

    in = path;
    end = path + len;
    out = path;

    while (in < end) {
        if (end - in >= 3 && memcmp(in, "../", 3) == 0) {
            in += 3;

        } else if (end - in >= 2 && memcmp(in, "./", 2) == 0) {
            in += 2;

        } else if (end - in >= 3 && memcmp(in, "/./", 3) == 0) {
            in += 2;

        } else if (end - in == 2 && memcmp(in, "/.", 2) == 0) {
            in += 1;
            *in = '/';

        } else if ((end - in >= 4 && memcmp(in, "/../", 4) == 0)
                   || (end - in == 3 && memcmp(in, "/..", 3) == 0))
        {
            in += 3;
            if (in == end) {
                *--in = '/';
            } else {
                in--;
                *in = '/';
            }

            while (out > path && *--out != '/') { /* void */ }

        } else if ((end - in == 1 && in[0] == '.')
                   || (end - in == 2 && memcmp(in, "..", 2) == 0))
        {
            in = end;

        } else {
            seg = in;
            if (*in == '/') {
                in++;
            }

            while (in < end && *in != '/') {
                in++;
            }

            memmove(out, seg, in - seg);
            out += in - seg;
        }
    }

    return out - path;
}


static char *
ngx_http_kafka_schema_uri_resolve(const char *base, const char *ref)
{
    char                         *t, *p, *path;
    size_t                        size, len;
    ngx_http_kafka_schema_uri_t   b, r, u;
    const char                   *slash;

    ngx_http_kafka_schema_uri_parse(base, &b);
    ngx_http_kafka_schema_uri_parse(ref, &r);

    size = strlen(base) + strlen(ref) + 8;

    path = malloc(size);
    t = malloc(size);

    if (path == NULL || t == NULL) {
        free(path);
        free(t);
        return NULL;
    }

    u = r;

    if (r.scheme == NULL) {
        u.scheme = b.scheme;
        u.scheme_len = b.scheme_len;

        if (r.authority == NULL) {
            u.authority = b.authority;
            u.authority_len = b.authority_len;

            if (r.path_len == 0) {
                u.path = b.path;
                u.path_len = b.path_len;

                if (r.query == NULL) {
                    u.query = b.query;
                    u.query_len = b.query_len;
                }

            } else if (r.path[0] != '/') {
                /* merge with the base path */
                len = 0;

                if (b.authority != NULL && b.path_len == 0) {
                    path[len++] = '/';

                } else {
                    slash = NULL;
                    for (p = (char *) b.path; p < b.path + b.path_len; p++) {
                        if (*p == '/') {
                            slash = p;
                        }
                    }

                    if (slash != NULL) {
                        len = slash - b.path + 1;
                        memcpy(path, b.path, len);
                    }
                }

                memcpy(path + len, r.path, r.path_len);
                len += r.path_len;
                u.path = path;
                u.path_len = ngx_http_kafka_schema_uri_dots(path, len);
            }
        }
    }

    if (u.path != path && u.path_len) {
        memcpy(path, u.path, u.path_len);
        u.path_len = ngx_http_kafka_schema_uri_dots(path, u.path_len);
        u.path = path;
    }

    p = t;

    if (u.scheme) {
        memcpy(p, u.scheme, u.scheme_len);
        p += u.scheme_len;
        *p++ = ':';
    }

    if (u.authority) {
        *p++ = '/';
        *p++ = '/';
        memcpy(p, u.authority, u.authority_len);
        p += u.authority_len;
    }

    memcpy(p, u.path, u.path_len);
    p += u.path_len;

    if (u.query) {
        *p++ = '?';
        memcpy(p, u.query, u.query_len);
        p += u.query_len;
    }

    if (u.fragment && u.fragment_len) {
        *p++ = '#';
        memcpy(p, u.fragment, u.fragment_len);
        p += u.fragment_len;
    }

    *p = '\0';

    free(path);

    return t;
}


static ngx_http_kafka_schema_resource_t *
ngx_http_kafka_schema_resource_add(ngx_http_kafka_schema_t *s,
    const char *uri, json_t *root, int draft)
{
    ngx_http_kafka_schema_resource_t  *res;

    res = ngx_http_kafka_schema_resource_find(s, uri);

    if (res != NULL) {
        if (res->root == root) {
            return res;
        }

        ngx_http_kafka_schema_fail(s, "\"%s\" identifies two schemas", uri);
        return NULL;
    }

    res = ngx_http_kafka_schema_alloc(s, sizeof(*res));
    if (res == NULL) {
        return NULL;
    }

    res->uri = ngx_http_kafka_schema_strdup(s, uri, strlen(uri));
    if (res->uri == NULL) {
        return NULL;
    }

    res->root = root;
    res->draft = draft;
    res->next = s->resources;
    s->resources = res;

    return res;
}


static ngx_http_kafka_schema_resource_t *
ngx_http_kafka_schema_resource_find(ngx_http_kafka_schema_t *s,
    const char *uri)
{
    ngx_http_kafka_schema_resource_t  *res;

    for (res = s->resources; res; res = res->next) {
        if (strcmp(res->uri, uri) == 0) {
            return res;
        }
    }

    return NULL;
}


static int
ngx_http_kafka_schema_anchor_add(ngx_http_kafka_schema_t *s,
    const char *base, const char *name, json_t *target,
    ngx_http_kafka_schema_resource_t *res, int dynamic)
{
    size_t                           blen, nlen;
    ngx_http_kafka_schema_anchor_t  *a;

    blen = strlen(base);
    nlen = strlen(name);

    a = ngx_http_kafka_schema_alloc(s, sizeof(*a) + blen + nlen + 2);
    if (a == NULL) {
        return -1;
    }

    a->uri = (char *) (a + 1);
    memcpy(a->uri, base, blen);
    a->uri[blen] = '#';
    memcpy(a->uri + blen + 1, name, nlen);
    a->name = a->uri + blen + 1;
    a->target = target;
    a->resource = res;
    a->dynamic = dynamic;

    a->next = s->anchors;
    s->anchors = a;

    return 0;
}


static ngx_http_kafka_schema_anchor_t *
ngx_http_kafka_schema_anchor_find(ngx_http_kafka_schema_t *s,
    const char *uri)
{
    ngx_http_kafka_schema_anchor_t  *a;

    for (a = s->anchors; a; a = a->next) {
        if (strcmp(a->uri, uri) == 0) {
            return a;
        }
    }

    return NULL;
}


static int
ngx_http_kafka_schema_draft(const char *uri, int dflt)
{
    if (strstr(uri, "draft/2020-12/") != NULL) {
        return NGX_HTTP_KAFKA_SCHEMA_DRAFT2020;
    }

    if (strstr(uri, "draft-07/") != NULL || strstr(uri, "draft-06/") != NULL
        || strstr(uri, "draft-04/") != NULL)
    {
        return NGX_HTTP_KAFKA_SCHEMA_DRAFT7;
    }

    return dflt;
}


/* a schema object or boolean and everything under it, see the top */

static ngx_http_kafka_schema_node_t *
ngx_http_kafka_schema_scan(ngx_http_kafka_schema_t *s, json_t *j,
    const char *base, ngx_http_kafka_schema_resource_t *res, int draft,
    int root)
{
    char                          *uri, *hash;
    json_t                        *v, *id;
    const char                    *key;
    ngx_http_kafka_schema_node_t  *n;

    if (json_is_true(j)) {
        return &s->true_node;
    }

    if (json_is_false(j)) {
        return &s->false_node;
    }

    if (!json_is_object(j)) {
        ngx_http_kafka_schema_fail(s, "a schema must be an object or a "
                                   "boolean, not %s",
                                   ngx_http_kafka_schema_type_name(j));
        return NULL;
    }

    n = ngx_http_kafka_schema_map_get(s, j);
    if (n != NULL) {
        return n;
    }

    n = ngx_http_kafka_schema_alloc(s, sizeof(ngx_http_kafka_schema_node_t));
    if (n == NULL || ngx_http_kafka_schema_map_put(s, j, n) != 0) {
        return NULL;
    }

    n->json = j;
    n->min_length = -1;
    n->max_length = -1;
    n->min_items = -1;
    n->max_items = -1;
    n->min_properties = -1;
    n->max_properties = -1;
    n->min_contains = 1;
    n->max_contains = -1;

    id = json_object_get(j, "$id");
    v = json_object_get(j, "$schema");

    if (json_is_string(v) && (root || id != NULL)) {
        draft = ngx_http_kafka_schema_draft(json_string_value(v), draft);
    }

    if (draft == NGX_HTTP_KAFKA_SCHEMA_DRAFT7
        && json_object_get(j, "$ref") != NULL)
    {
        /* draft-07: $ref makes every other keyword, $id too, ignored */
        n->ref_only = 1;
        id = NULL;
    }

    if (id != NULL) {
        if (!json_is_string(id)) {
            ngx_http_kafka_schema_fail(s, "$id must be a string");
            return NULL;
        }

        uri = ngx_http_kafka_schema_uri_resolve(base,
                                                json_string_value(id));
        if (uri == NULL) {
            return NULL;
        }

        hash = strchr(uri, '#');

        if (hash != NULL) {
            *hash++ = '\0';
        }

        if (json_string_value(id)[0] != '#') {
            res = ngx_http_kafka_schema_resource_add(s, uri, j, draft);
            if (res == NULL) {
                free(uri);
                return NULL;
            }

            base = res->uri;
        }

        if (hash != NULL && *hash != '\0'
            && (draft == NGX_HTTP_KAFKA_SCHEMA_DRAFT7
                || hash[0] != '/'))
        {
            if (ngx_http_kafka_schema_anchor_add(s, base, hash, j, res, 0)
                != 0)
            {
                free(uri);
                return NULL;
            }
        }

        free(uri);
    }

    n->base = base;
    n->resource = res;
    n->draft = draft;

    if (draft == NGX_HTTP_KAFKA_SCHEMA_DRAFT2020) {
        v = json_object_get(j, "$anchor");

        if (json_is_string(v)
            && ngx_http_kafka_schema_anchor_add(s, base, json_string_value(v),
                                                j, res, 0)
               != 0)
        {
            return NULL;
        }

        v = json_object_get(j, "$dynamicAnchor");

        if (json_is_string(v)
            && ngx_http_kafka_schema_anchor_add(s, base, json_string_value(v),
                                                j, res, 1)
               != 0)
        {
            return NULL;
        }
    }

    json_object_foreach(j, key, v) {
        if (n->ref_only && strcmp(key, "$ref") != 0
            && strcmp(key, "definitions") != 0)
        {
            continue;
        }

        if (ngx_http_kafka_schema_scan_keyword(s, n, key, v) != 0) {
            return NULL;
        }
    }

    return n;
}


/* one keyword of a schema object; unknown keywords are annotations */

static int
ngx_http_kafka_schema_scan_keyword(ngx_http_kafka_schema_t *s,
    ngx_http_kafka_schema_node_t *n, const char *key, json_t *v)
{
    int                            d7;
    size_t                         i, old;
    json_t                        *t;
    unsigned                       k;
    ngx_http_kafka_schema_node_t  *sub;

    d7 = (n->draft == NGX_HTTP_KAFKA_SCHEMA_DRAFT7);

    if (strcmp(key, "type") == 0) {
        old = ngx_http_kafka_schema_path_push(s, key, 0);

        for (i = 0; i < (json_is_array(v) ? json_array_size(v) : 1); i++) {
            t = json_is_array(v) ? json_array_get(v, i) : v;

            for (k = 0;
                 json_is_string(t) && ngx_http_kafka_schema_types[k].name;
                 k++)
            {
                if (strcmp(json_string_value(t),
                           ngx_http_kafka_schema_types[k].name) == 0)
                {
                    break;
                }
            }

            if (!json_is_string(t) || !ngx_http_kafka_schema_types[k].name) {
                ngx_http_kafka_schema_fail(s, "unknown type, expected "
                    "\"null\", \"boolean\", \"object\", \"array\", "
                    "\"number\", \"string\" or \"integer\"");
                return -1;
            }

            n->types |= ngx_http_kafka_schema_types[k].mask;
        }

        s->path_len = old;
        s->path[old] = '\0';

        return 0;
    }

    if (strcmp(key, "enum") == 0) {
        if (!json_is_array(v)) {
            ngx_http_kafka_schema_path_push(s, key, 0);
            ngx_http_kafka_schema_fail(s, "must be an array");
            return -1;
        }

        n->enum_values = v;
        return 0;
    }

    if (strcmp(key, "const") == 0) {
        n->const_value = v;
        return 0;
    }

    if (strcmp(key, "minimum") == 0 || strcmp(key, "maximum") == 0
        || strcmp(key, "exclusiveMinimum") == 0
        || strcmp(key, "exclusiveMaximum") == 0
        || strcmp(key, "multipleOf") == 0)
    {
        if (!json_is_number(v)
            || (key[1] == 'u' && json_number_value(v) <= 0))
        {
            ngx_http_kafka_schema_path_push(s, key, 0);
            ngx_http_kafka_schema_fail(s, key[1] == 'u'
                                       ? "must be a number above 0"
                                       : "must be a number");
            return -1;
        }

        switch (key[1]) {
        case 'i':
            n->minimum = v;
            break;
        case 'a':
            n->maximum = v;
            break;
        case 'u':
            n->multiple_of = v;
            break;
        default:
            if (key[9] == 'M' && key[10] == 'i') {
                n->exclusive_minimum = v;
            } else {
                n->exclusive_maximum = v;
            }
        }

        return 0;
    }

    if (strcmp(key, "minLength") == 0) {
        return ngx_http_kafka_schema_count(s, key, v, &n->min_length);
    }

    if (strcmp(key, "maxLength") == 0) {
        return ngx_http_kafka_schema_count(s, key, v, &n->max_length);
    }

    if (strcmp(key, "minItems") == 0) {
        return ngx_http_kafka_schema_count(s, key, v, &n->min_items);
    }

    if (strcmp(key, "maxItems") == 0) {
        return ngx_http_kafka_schema_count(s, key, v, &n->max_items);
    }

    if (strcmp(key, "minProperties") == 0) {
        return ngx_http_kafka_schema_count(s, key, v, &n->min_properties);
    }

    if (strcmp(key, "maxProperties") == 0) {
        return ngx_http_kafka_schema_count(s, key, v, &n->max_properties);
    }

    if (!d7 && strcmp(key, "minContains") == 0) {
        return ngx_http_kafka_schema_count(s, key, v, &n->min_contains);
    }

    if (!d7 && strcmp(key, "maxContains") == 0) {
        return ngx_http_kafka_schema_count(s, key, v, &n->max_contains);
    }

    if (strcmp(key, "uniqueItems") == 0) {
        n->unique_items = json_is_true(v);
        return 0;
    }

    if (strcmp(key, "pattern") == 0) {
        if (!json_is_string(v)) {
            ngx_http_kafka_schema_path_push(s, key, 0);
            ngx_http_kafka_schema_fail(s, "must be a string");
            return -1;
        }

        n->pattern = ngx_http_kafka_schema_regex(s, key,
                                                 json_string_value(v));
        return n->pattern ? 0 : -1;
    }

    if (strcmp(key, "format") == 0) {
        if (json_is_string(v)) {
            n->format = json_string_value(v);
        }

        return 0;
    }

    if (strcmp(key, "required") == 0) {
        n->required = v;
        return ngx_http_kafka_schema_strings(s, key, v);
    }

    if (strcmp(key, "items") == 0) {
        if (d7 && json_is_array(v)) {
            return ngx_http_kafka_schema_sub_list(s, n, key, v,
                                                  &n->prefix_items, 0);
        }

        n->items = ngx_http_kafka_schema_sub(s, n, key, -1, v);
        return n->items ? 0 : -1;
    }

    if (d7 && strcmp(key, "additionalItems") == 0) {
        sub = ngx_http_kafka_schema_sub(s, n, key, -1, v);

        /* it applies only after an array of "items" */
        if (json_is_array(json_object_get(n->json, "items"))) {
            n->items = sub;
        }

        return sub ? 0 : -1;
    }

    if (!d7 && strcmp(key, "prefixItems") == 0) {
        return ngx_http_kafka_schema_sub_list(s, n, key, v,
                                              &n->prefix_items, 1);
    }

    if (strcmp(key, "contains") == 0) {
        n->contains = ngx_http_kafka_schema_sub(s, n, key, -1, v);
        return n->contains ? 0 : -1;
    }

    if (!d7 && strcmp(key, "unevaluatedItems") == 0) {
        n->unevaluated_items = ngx_http_kafka_schema_sub(s, n, key, -1, v);
        return n->unevaluated_items ? 0 : -1;
    }

    if (!d7 && strcmp(key, "unevaluatedProperties") == 0) {
        n->unevaluated_properties = ngx_http_kafka_schema_sub(s, n, key, -1,
                                                              v);
        return n->unevaluated_properties ? 0 : -1;
    }

    if (strcmp(key, "additionalProperties") == 0) {
        n->additional_properties = ngx_http_kafka_schema_sub(s, n, key, -1,
                                                             v);
        return n->additional_properties ? 0 : -1;
    }

    if (strcmp(key, "propertyNames") == 0) {
        n->property_names = ngx_http_kafka_schema_sub(s, n, key, -1, v);
        return n->property_names ? 0 : -1;
    }

    if (strcmp(key, "properties") == 0 || strcmp(key, "patternProperties") == 0
        || (d7 && strcmp(key, "dependencies") == 0)
        || (!d7 && strcmp(key, "dependentSchemas") == 0)
        || (!d7 && strcmp(key, "dependentRequired") == 0)
        || strcmp(key, (d7 ? "definitions" : "$defs")) == 0)
    {
        return ngx_http_kafka_schema_sub_map(s, n, key, v);
    }

    if (strcmp(key, "allOf") == 0) {
        return ngx_http_kafka_schema_sub_list(s, n, key, v, &n->all_of, 1);
    }

    if (strcmp(key, "anyOf") == 0) {
        return ngx_http_kafka_schema_sub_list(s, n, key, v, &n->any_of, 1);
    }

    if (strcmp(key, "oneOf") == 0) {
        return ngx_http_kafka_schema_sub_list(s, n, key, v, &n->one_of, 1);
    }

    if (strcmp(key, "not") == 0) {
        n->not = ngx_http_kafka_schema_sub(s, n, key, -1, v);
        return n->not ? 0 : -1;
    }

    if (strcmp(key, "if") == 0) {
        n->if_ = ngx_http_kafka_schema_sub(s, n, key, -1, v);
        return n->if_ ? 0 : -1;
    }

    if (strcmp(key, "then") == 0) {
        n->then_ = ngx_http_kafka_schema_sub(s, n, key, -1, v);
        return n->then_ ? 0 : -1;
    }

    if (strcmp(key, "else") == 0) {
        n->else_ = ngx_http_kafka_schema_sub(s, n, key, -1, v);
        return n->else_ ? 0 : -1;
    }

    if (strcmp(key, "$ref") == 0 || (!d7 && strcmp(key, "$dynamicRef") == 0))
    {
        if (!json_is_string(v)) {
            ngx_http_kafka_schema_path_push(s, key, 0);
            ngx_http_kafka_schema_fail(s, "must be a string");
            return -1;
        }

        if (key[1] == 'r') {
            n->ref = json_string_value(v);
        } else {
            n->dynamic_ref = json_string_value(v);
        }

        return 0;
    }

    return 0;
}


static ngx_http_kafka_schema_node_t *
ngx_http_kafka_schema_sub(ngx_http_kafka_schema_t *s,
    ngx_http_kafka_schema_node_t *n, const char *key, long index, json_t *v)
{
    size_t                         old;
    ngx_http_kafka_schema_node_t  *sub;

    old = ngx_http_kafka_schema_path_push(s, key, 0);

    if (index >= 0) {
        ngx_http_kafka_schema_path_push(s, NULL, index);
    }

    sub = ngx_http_kafka_schema_scan(s, v, n->base, n->resource, n->draft, 0);

    if (sub != NULL) {
        s->path_len = old;
        s->path[old] = '\0';

    } else if (!s->failed) {
        ngx_http_kafka_schema_fail(s, "out of memory");
    }

    return sub;
}


static int
ngx_http_kafka_schema_sub_list(ngx_http_kafka_schema_t *s,
    ngx_http_kafka_schema_node_t *n, const char *key, json_t *v,
    ngx_http_kafka_schema_list_t *list, int nonempty)
{
    size_t  i;

    if (!json_is_array(v) || (nonempty && json_array_size(v) == 0)) {
        ngx_http_kafka_schema_path_push(s, key, 0);
        ngx_http_kafka_schema_fail(s, "must be a non-empty array of schemas");
        return -1;
    }

    list->n = json_array_size(v);
    list->elts = ngx_http_kafka_schema_alloc(s,
                     (list->n + 1) * sizeof(ngx_http_kafka_schema_node_t *));
    if (list->elts == NULL) {
        return -1;
    }

    for (i = 0; i < list->n; i++) {
        list->elts[i] = ngx_http_kafka_schema_sub(s, n, key, i,
                                                  json_array_get(v, i));
        if (list->elts[i] == NULL) {
            return -1;
        }
    }

    return 0;
}


/*
 * The keywords whose value is an object of schemas (or, for
 * dependentRequired and draft-07's dependencies, of arrays of names).
 */

static int
ngx_http_kafka_schema_sub_map(ngx_http_kafka_schema_t *s,
    ngx_http_kafka_schema_node_t *n, const char *key, json_t *v)
{
    size_t                          i, old, count;
    json_t                         *sv;
    const char                     *name;
    ngx_http_kafka_schema_node_t   *sub;
    ngx_http_kafka_schema_dep_t    *dep;

    if (!json_is_object(v)) {
        ngx_http_kafka_schema_path_push(s, key, 0);
        ngx_http_kafka_schema_fail(s, "must be an object");
        return -1;
    }

    count = json_object_size(v);

    if (strcmp(key, "properties") == 0) {
        n->props = ngx_http_kafka_schema_alloc(s,
                       (count + 1) * sizeof(ngx_http_kafka_schema_prop_t));
        n->prop_index = json_object();

        if (n->props == NULL || n->prop_index == NULL
            || json_array_append_new(s->docs, n->prop_index) != 0)
        {
            return -1;
        }

    } else if (strcmp(key, "patternProperties") == 0) {
        n->patterns = ngx_http_kafka_schema_alloc(s,
                        (count + 1) * sizeof(ngx_http_kafka_schema_pattern_t));
        if (n->patterns == NULL) {
            return -1;
        }

    } else if (strncmp(key, "depend", 6) == 0 && n->deps == NULL) {
        /* dependencies, dependentSchemas, dependentRequired share deps */
        count = json_object_size(json_object_get(n->json, "dependencies"))
                + json_object_size(json_object_get(n->json,
                                                   "dependentSchemas"))
                + json_object_size(json_object_get(n->json,
                                                   "dependentRequired"));

        n->deps = ngx_http_kafka_schema_alloc(s,
                      (count + 1) * sizeof(ngx_http_kafka_schema_dep_t));
        if (n->deps == NULL) {
            return -1;
        }
    }

    i = 0;

    json_object_foreach(v, name, sv) {

        if (strcmp(key, "dependentRequired") == 0
            || (strcmp(key, "dependencies") == 0 && json_is_array(sv)))
        {
            old = ngx_http_kafka_schema_path_push(s, key, 0);

            if (ngx_http_kafka_schema_strings(s, name, sv) != 0) {
                return -1;
            }

            s->path_len = old;
            s->path[old] = '\0';

            dep = &n->deps[n->ndeps++];
            dep->name = name;
            dep->required = sv;
            continue;
        }

        old = ngx_http_kafka_schema_path_push(s, key, 0);
        sub = ngx_http_kafka_schema_sub(s, n, name, -1, sv);
        s->path_len = old;
        s->path[old] = '\0';

        if (sub == NULL) {
            return -1;
        }

        if (strcmp(key, "properties") == 0) {
            n->props[i].name = name;
            n->props[i].node = sub;

            if (json_object_set_new(n->prop_index, name, json_integer(i))
                != 0)
            {
                return -1;
            }

        } else if (strcmp(key, "patternProperties") == 0) {
            old = ngx_http_kafka_schema_path_push(s, key, 0);
            n->patterns[i].re = ngx_http_kafka_schema_regex(s, name, name);
            s->path_len = old;
            s->path[old] = '\0';

            if (n->patterns[i].re == NULL) {
                return -1;
            }

            n->patterns[i].node = sub;
            n->npatterns++;

        } else if (strncmp(key, "depend", 6) == 0) {
            dep = &n->deps[n->ndeps++];
            dep->name = name;
            dep->node = sub;
        }

        i++;
    }

    if (strcmp(key, "properties") == 0) {
        n->nprops = i;
    }

    return 0;
}


static int
ngx_http_kafka_schema_count(ngx_http_kafka_schema_t *s, const char *key,
    json_t *v, long *out)
{
    double  d;

    d = json_is_number(v) ? json_number_value(v) : -1;

    if (d < 0 || d != floor(d) || d > 1e15) {
        ngx_http_kafka_schema_path_push(s, key, 0);
        ngx_http_kafka_schema_fail(s, "must be a non-negative integer");
        return -1;
    }

    *out = (long) d;

    return 0;
}


static int
ngx_http_kafka_schema_strings(ngx_http_kafka_schema_t *s, const char *key,
    json_t *v)
{
    size_t  i;

    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++) {
            if (!json_is_string(json_array_get(v, i))) {
                break;
            }
        }

        if (i == json_array_size(v)) {
            return 0;
        }
    }

    ngx_http_kafka_schema_path_push(s, key, 0);
    ngx_http_kafka_schema_fail(s, "must be an array of strings");

    return -1;
}


/*
 * ECMA-262 patterns through PCRE2 in UTF mode: "$" only at the very end,
 * \uXXXX escapes; \d and \w stay ASCII as in ECMA-262.  ECMA-262's long
 * names of general categories (\p{Letter}) become PCRE2's short ones.
 */

static const char  *ngx_http_kafka_schema_categories[][2] = {
    { "Letter", "L" }, { "Cased_Letter", "L&" },
    { "Uppercase_Letter", "Lu" }, { "Lowercase_Letter", "Ll" },
    { "Titlecase_Letter", "Lt" }, { "Modifier_Letter", "Lm" },
    { "Other_Letter", "Lo" }, { "Mark", "M" }, { "Number", "N" },
    { "Decimal_Number", "Nd" }, { "digit", "Nd" }, { "Letter_Number", "Nl" },
    { "Other_Number", "No" }, { "Punctuation", "P" }, { "punct", "P" },
    { "Symbol", "S" }, { "Math_Symbol", "Sm" }, { "Currency_Symbol", "Sc" },
    { "Separator", "Z" }, { "Space_Separator", "Zs" },
    { "Line_Separator", "Zl" }, { "Paragraph_Separator", "Zp" },
    { "Other", "C" }, { "Control", "Cc" }, { "Format", "Cf" },
    { "Unassigned", "Cn" }, { "Private_Use", "Co" },
    { NULL, NULL }
};


static char *
ngx_http_kafka_schema_regex_source(const char *source)
{
    char        *out, *p;
    size_t       i, len;
    const char  *c, *end;

    out = malloc(strlen(source) + 1);
    if (out == NULL) {
        return NULL;
    }

    for (c = source, p = out; *c; c++) {
        if (c[0] == '\\' && c[1] != '\0') {
            if ((c[1] == 'p' || c[1] == 'P') && c[2] == '{') {
                end = strchr(c + 3, '}');
                len = end ? (size_t) (end - c - 3) : 0;

                for (i = 0; end && ngx_http_kafka_schema_categories[i][0];
                     i++)
                {
                    if (strlen(ngx_http_kafka_schema_categories[i][0]) == len
                        && strncmp(c + 3,
                                   ngx_http_kafka_schema_categories[i][0],
                                   len) == 0)
                    {
                        p += sprintf(p, "\\%c{%s}", c[1],
                                     ngx_http_kafka_schema_categories[i][1]);
                        c = end;
                        break;
                    }
                }

                if (c == end) {
                    continue;
                }
            }

            *p++ = *c++;
        }

        *p++ = *c;
    }

    *p = '\0';

    return out;
}


static ngx_http_kafka_schema_regex_t *
ngx_http_kafka_schema_regex(ngx_http_kafka_schema_t *s, const char *key,
    const char *source)
{
    int                             rc;
    char                           *ecma;
    PCRE2_SIZE                      offset;
    pcre2_code                     *code;
    ngx_http_kafka_schema_regex_t  *re;
    PCRE2_UCHAR                     msg[256];

    for (re = s->regexes; re; re = re->next) {
        if (strcmp(re->source, source) == 0) {
            return re;
        }
    }

    ecma = ngx_http_kafka_schema_regex_source(source);
    if (ecma == NULL) {
        return NULL;
    }

    code = pcre2_compile((PCRE2_SPTR) ecma, PCRE2_ZERO_TERMINATED,
                         PCRE2_UTF|PCRE2_DOLLAR_ENDONLY|PCRE2_ALT_BSUX,
                         &rc, &offset, NULL);
    free(ecma);

    if (code == NULL) {
        pcre2_get_error_message(rc, msg, sizeof(msg));
        ngx_http_kafka_schema_path_push(s, key, 0);
        ngx_http_kafka_schema_fail(s, "invalid regular expression \"%s\" at "
                                   "offset %zu: %s", source, (size_t) offset,
                                   (char *) msg);
        return NULL;
    }

    re = ngx_http_kafka_schema_alloc(s, sizeof(*re));
    if (re == NULL) {
        pcre2_code_free(code);
        return NULL;
    }

    re->code = code;
    re->source = source;
    re->next = s->regexes;
    s->regexes = re;

    return re;
}


/* resolves every $ref and $dynamicRef, loading documents on the way */

static int
ngx_http_kafka_schema_link(ngx_http_kafka_schema_t *s)
{
    size_t                           i;
    ngx_http_kafka_schema_node_t    *n;
    ngx_http_kafka_schema_anchor_t  *a;

    for (i = 0; i < s->nnodes; i++) {
        n = s->nodes[i];

        s->path_len = 0;
        s->path[0] = '\0';

        if (n->ref != NULL) {
            n->ref_node = ngx_http_kafka_schema_resolve(s, n, n->ref, &a);
            if (n->ref_node == NULL) {
                return -1;
            }
        }

        if (n->dynamic_ref != NULL) {
            n->dynamic_ref_node = ngx_http_kafka_schema_resolve(s, n,
                                                    n->dynamic_ref, &a);
            if (n->dynamic_ref_node == NULL) {
                return -1;
            }

            /* only a $dynamicAnchor as the first target makes it dynamic */
            if (a != NULL && a->dynamic) {
                n->dynamic_name = a->name;
            }
        }
    }

    return 0;
}


static ngx_http_kafka_schema_node_t *
ngx_http_kafka_schema_resolve(ngx_http_kafka_schema_t *s,
    ngx_http_kafka_schema_node_t *n, const char *ref,
    ngx_http_kafka_schema_anchor_t **anchor)
{
    char                              *uri, *frag;
    json_t                            *target;
    ngx_http_kafka_schema_node_t      *node;
    ngx_http_kafka_schema_anchor_t    *a;
    ngx_http_kafka_schema_resource_t  *res;

    *anchor = NULL;

    uri = ngx_http_kafka_schema_uri_resolve(n->base, ref);
    if (uri == NULL) {
        return NULL;
    }

    frag = strchr(uri, '#');

    if (frag != NULL && frag[1] != '\0' && frag[1] != '/') {
        a = ngx_http_kafka_schema_anchor_find(s, uri);

        if (a == NULL) {
            *frag = '\0';

            if (ngx_http_kafka_schema_resource_find(s, uri) == NULL
                && ngx_http_kafka_schema_load(s, uri) != NULL)
            {
                *frag = '#';
                a = ngx_http_kafka_schema_anchor_find(s, uri);
            }
        }

        if (a == NULL) {
            if (!s->failed) {
                *frag = '#';
                ngx_http_kafka_schema_fail(s, "$ref \"%s\": no anchor \"%s\"",
                                           ref, uri);
            }

            free(uri);
            return NULL;
        }

        free(uri);
        *anchor = a;

        node = ngx_http_kafka_schema_map_get(s, a->target);
        if (node != NULL) {
            return node;
        }

        return ngx_http_kafka_schema_scan(s, a->target, a->resource->uri,
                                          a->resource, a->resource->draft, 0);
    }

    if (frag != NULL) {
        *frag++ = '\0';
    }

    res = ngx_http_kafka_schema_resource_find(s, uri);

    if (res == NULL) {
        res = ngx_http_kafka_schema_load(s, uri);

        if (res == NULL) {
            free(uri);
            return NULL;
        }
    }

    target = res->root;

    if (frag != NULL && *frag != '\0') {
        target = ngx_http_kafka_schema_pointer(res->root, frag);

        if (target == NULL) {
            ngx_http_kafka_schema_fail(s, "$ref \"%s\": \"#%s\" is not in "
                                       "\"%s\"", ref, frag, uri);
            free(uri);
            return NULL;
        }
    }

    free(uri);

    if (json_is_boolean(target)) {
        return json_is_true(target) ? &s->true_node : &s->false_node;
    }

    node = ngx_http_kafka_schema_map_get(s, target);
    if (node != NULL) {
        return node;
    }

    return ngx_http_kafka_schema_scan(s, target, res->uri, res, res->draft,
                                      target == res->root);
}


static ngx_http_kafka_schema_resource_t *
ngx_http_kafka_schema_load(ngx_http_kafka_schema_t *s, const char *uri)
{
    json_t                            *doc;
    ngx_http_kafka_schema_resource_t  *res;
    char                               msg[512];

    if (s->options.load == NULL) {
        ngx_http_kafka_schema_fail(s, "$ref to \"%s\": no such schema", uri);
        return NULL;
    }

    msg[0] = '\0';

    doc = s->options.load(uri, s->options.data, msg, sizeof(msg));
    if (doc == NULL) {
        ngx_http_kafka_schema_fail(s, "$ref to \"%s\": %s", uri,
                                   msg[0] ? msg : "cannot be loaded");
        return NULL;
    }

    if (json_array_append_new(s->docs, doc) != 0) {
        return NULL;
    }

    res = ngx_http_kafka_schema_resource_add(s, uri, doc, s->options.draft);
    if (res == NULL) {
        return NULL;
    }

    if (json_is_object(doc) || json_is_boolean(doc)) {
        if (ngx_http_kafka_schema_scan(s, doc, res->uri, res,
                                       s->options.draft, 1)
            == NULL)
        {
            return NULL;
        }

        /* $schema of the loaded document decides its draft */
        if (json_is_object(doc)) {
            res->draft = ngx_http_kafka_schema_map_get(s, doc)->draft;
        }
    }

    return res;
}


/* a JSON pointer fragment, percent-encoded (RFC 6901, section 6) */

static json_t *
ngx_http_kafka_schema_pointer(json_t *root, const char *frag)
{
    char        *buf, *p, *seg, *end;
    json_t      *cur;
    const char  *c;
    size_t       idx;
    int          hex;

    buf = malloc(strlen(frag) + 1);
    if (buf == NULL) {
        return NULL;
    }

    for (c = frag, p = buf; *c; c++) {
        if (*c == '%' && c[1] && c[2]
            && sscanf(c + 1, "%2x", (unsigned *) &hex) == 1)
        {
            *p++ = (char) hex;
            c += 2;

        } else {
            *p++ = *c;
        }
    }

    *p = '\0';
    cur = root;
    seg = buf;

    if (*seg != '/') {
        free(buf);
        return NULL;
    }

    while (cur != NULL && *seg == '/') {
        seg++;
        end = strchr(seg, '/');
        if (end == NULL) {
            end = seg + strlen(seg);
        }

        /* unescape ~1 and ~0 into the segment */
        for (c = seg, p = seg; c < end; c++) {
            if (*c == '~' && c + 1 < end && (c[1] == '0' || c[1] == '1')) {
                *p++ = (c[1] == '0') ? '~' : '/';
                c++;

            } else {
                *p++ = *c;
            }
        }

        char  saved = *end;
        *p = '\0';

        if (json_is_object(cur)) {
            cur = json_object_get(cur, seg);

        } else if (json_is_array(cur)) {
            idx = 0;
            for (c = seg; *c >= '0' && *c <= '9'; c++) {
                idx = idx * 10 + (*c - '0');
            }

            cur = (*c == '\0' && c != seg) ? json_array_get(cur, idx) : NULL;

        } else {
            cur = NULL;
        }

        *end = saved;
        seg = end;
    }

    free(buf);

    return cur;
}


int
ngx_http_kafka_schema_validate(ngx_http_kafka_schema_t *schema,
    json_t *instance, int formats, size_t max_errors,
    ngx_http_kafka_schema_error_pt error, void *data)
{
    ngx_http_kafka_schema_ctx_t  ctx;

    ctx.schema = schema;
    ctx.error = error;
    ctx.data = data;
    ctx.max_errors = max_errors;
    ctx.formats = formats;
    ctx.nerrors = 0;
    ctx.collect = (error != NULL && max_errors > 0);
    ctx.full = 0;
    ctx.depth = 0;
    ctx.nscope = 0;
    ctx.npath = 0;

    return ngx_http_kafka_schema_check(&ctx, schema->root, instance, NULL);
}


/*
 * In the checks, FAIL notes a violation and goes on only while errors are
 * being collected and there is room for more; otherwise the answer is
 * known.
 */

#define NGX_HTTP_KAFKA_SCHEMA_FAIL                                           \
    do {                                                                     \
        valid = 0;                                                           \
        if (!ctx->collect || ctx->full) {                                    \
            return 0;                                                        \
        }                                                                    \
    } while (0)


static int
ngx_http_kafka_schema_check(ngx_http_kafka_schema_ctx_t *ctx,
    ngx_http_kafka_schema_node_t *n, json_t *inst,
    ngx_http_kafka_schema_eval_t *ev)
{
    int                            rc, pushed;
    ngx_http_kafka_schema_eval_t   local, *use;

    if (n->boolean) {
        if (n->value) {
            return 1;
        }

        ngx_http_kafka_schema_report(ctx, NULL, "false",
                                     "no value is allowed here");
        return 0;
    }

    if (ctx->depth >= NGX_HTTP_KAFKA_SCHEMA_MAX_DEPTH) {
        ngx_http_kafka_schema_report(ctx, NULL, "$ref",
                                     "the schema nests deeper than %d",
                                     NGX_HTTP_KAFKA_SCHEMA_MAX_DEPTH);
        return 0;
    }

    ctx->depth++;
    pushed = 0;

    if (ctx->nscope == 0 || ctx->scope[ctx->nscope - 1] != n->resource) {
        ctx->scope[ctx->nscope++] = n->resource;
        pushed = 1;
    }

    use = ev;

    if ((n->unevaluated_properties && json_is_object(inst))
        || (n->unevaluated_items && json_is_array(inst)))
    {
        if (ngx_http_kafka_schema_eval_init(&local, inst) != 0) {
            ngx_http_kafka_schema_report(ctx, NULL, "unevaluated",
                                         "out of memory");
            rc = 0;
            goto done;
        }

        use = &local;
    }

    rc = ngx_http_kafka_schema_check_body(ctx, n, inst, use);

    if (use != ev) {
        if (rc && ev != NULL) {
            ngx_http_kafka_schema_eval_merge(ev, &local);
        }

        ngx_http_kafka_schema_eval_free(&local);
    }

done:

    if (pushed) {
        ctx->nscope--;
    }

    ctx->depth--;

    return rc;
}


static int
ngx_http_kafka_schema_check_body(ngx_http_kafka_schema_ctx_t *ctx,
    ngx_http_kafka_schema_node_t *n, json_t *inst,
    ngx_http_kafka_schema_eval_t *ev)
{
    int  valid;

    valid = 1;

    if (n->ref_node != NULL) {
        if (!ngx_http_kafka_schema_check(ctx, n->ref_node, inst, ev)) {
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }

        if (n->ref_only) {
            return valid;
        }
    }

    if (n->dynamic_ref_node != NULL
        && !ngx_http_kafka_schema_check(ctx,
                                        ngx_http_kafka_schema_dynamic(ctx, n),
                                        inst, ev))
    {
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (!ngx_http_kafka_schema_check_value(ctx, n, inst)) {
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (json_is_array(inst)
        && !ngx_http_kafka_schema_check_array(ctx, n, inst, ev))
    {
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (json_is_object(inst)
        && !ngx_http_kafka_schema_check_object(ctx, n, inst, ev))
    {
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (!ngx_http_kafka_schema_check_applicators(ctx, n, inst, ev)) {
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (!ngx_http_kafka_schema_check_unevaluated(ctx, n, inst, ev)) {
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    return valid;
}


/* type, enum, const, and the number and string keywords */

static int
ngx_http_kafka_schema_check_value(ngx_http_kafka_schema_ctx_t *ctx,
    ngx_http_kafka_schema_node_t *n, json_t *inst)
{
    int          rc, valid;
    char        *p, *end;
    size_t       i, len;
    unsigned     t;
    const char  *s;
    char         buf[256];

    valid = 1;
    t = ngx_http_kafka_schema_type(inst);

    if (n->types && !(n->types & t)) {
        p = buf;
        end = buf + sizeof(buf);

        for (i = 0; ngx_http_kafka_schema_types[i].name; i++) {
            if (n->types & ngx_http_kafka_schema_types[i].mask) {
                p += snprintf(p, end - p, "%s%s", p == buf ? "" : " or ",
                              ngx_http_kafka_schema_types[i].name);
            }
        }

        ngx_http_kafka_schema_report(ctx, NULL, "type", "must be %s, not %s",
                                     buf,
                                     ngx_http_kafka_schema_type_name(inst));
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (n->enum_values != NULL) {
        for (i = 0; i < json_array_size(n->enum_values); i++) {
            if (ngx_http_kafka_schema_equal(inst,
                                            json_array_get(n->enum_values, i)))
            {
                break;
            }
        }

        if (i == json_array_size(n->enum_values)) {
            ngx_http_kafka_schema_report(ctx, NULL, "enum",
                                  "must be one of the %zu allowed values",
                                  json_array_size(n->enum_values));
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }
    }

    if (n->const_value != NULL
        && !ngx_http_kafka_schema_equal(inst, n->const_value))
    {
        ngx_http_kafka_schema_report(ctx, NULL, "const",
                                     "must be the constant value");
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (t & NGX_HTTP_KAFKA_SCHEMA_T_NUMBER) {

        if (n->minimum
            && ngx_http_kafka_schema_compare(inst, n->minimum) < 0)
        {
            ngx_http_kafka_schema_number_text(n->minimum, buf, sizeof(buf));
            ngx_http_kafka_schema_report(ctx, NULL, "minimum",
                                         "must be >= %s", buf);
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }

        if (n->maximum
            && ngx_http_kafka_schema_compare(inst, n->maximum) > 0)
        {
            ngx_http_kafka_schema_number_text(n->maximum, buf, sizeof(buf));
            ngx_http_kafka_schema_report(ctx, NULL, "maximum",
                                         "must be <= %s", buf);
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }

        if (n->exclusive_minimum
            && ngx_http_kafka_schema_compare(inst, n->exclusive_minimum) <= 0)
        {
            ngx_http_kafka_schema_number_text(n->exclusive_minimum, buf,
                                              sizeof(buf));
            ngx_http_kafka_schema_report(ctx, NULL, "exclusiveMinimum",
                                         "must be > %s", buf);
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }

        if (n->exclusive_maximum
            && ngx_http_kafka_schema_compare(inst, n->exclusive_maximum) >= 0)
        {
            ngx_http_kafka_schema_number_text(n->exclusive_maximum, buf,
                                              sizeof(buf));
            ngx_http_kafka_schema_report(ctx, NULL, "exclusiveMaximum",
                                         "must be < %s", buf);
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }

        if (n->multiple_of
            && !ngx_http_kafka_schema_multiple(inst, n->multiple_of))
        {
            ngx_http_kafka_schema_number_text(n->multiple_of, buf,
                                              sizeof(buf));
            ngx_http_kafka_schema_report(ctx, NULL, "multipleOf",
                                         "must be a multiple of %s", buf);
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }
    }

    if (!(t & NGX_HTTP_KAFKA_SCHEMA_T_STRING)) {
        return valid;
    }

    s = json_string_value(inst);
    len = json_string_length(inst);

    if (n->min_length >= 0 || n->max_length >= 0) {
        i = ngx_http_kafka_schema_utf8_length(s, len);

        if (n->min_length >= 0 && i < (size_t) n->min_length) {
            ngx_http_kafka_schema_report(ctx, NULL, "minLength",
                                  "must be at least %ld characters long",
                                  n->min_length);
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }

        if (n->max_length >= 0 && i > (size_t) n->max_length) {
            ngx_http_kafka_schema_report(ctx, NULL, "maxLength",
                                  "must be at most %ld characters long",
                                  n->max_length);
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }
    }

    if (n->pattern != NULL) {
        rc = pcre2_match(n->pattern->code, (PCRE2_SPTR) s, len, 0,
                         PCRE2_NO_UTF_CHECK, ctx->schema->match, NULL);
        if (rc < 0) {
            ngx_http_kafka_schema_report(ctx, NULL, "pattern",
                                         "must match the pattern \"%.200s\"",
                                         n->pattern->source);
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }
    }

    if (n->format != NULL && ctx->formats
        && ngx_http_kafka_schema_format(n->format, s, len) == 0)
    {
        ngx_http_kafka_schema_report(ctx, NULL, "format",
                                     "must be a valid %.64s", n->format);
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    return valid;
}


static int
ngx_http_kafka_schema_check_array(ngx_http_kafka_schema_ctx_t *ctx,
    ngx_http_kafka_schema_node_t *n, json_t *inst,
    ngx_http_kafka_schema_eval_t *ev)
{
    int     valid, saved;
    long    count;
    size_t  i, j, size, np;

    valid = 1;
    size = json_array_size(inst);

    if (n->min_items >= 0 && size < (size_t) n->min_items) {
        ngx_http_kafka_schema_report(ctx, NULL, "minItems",
                                     "must have at least %ld items",
                                     n->min_items);
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (n->max_items >= 0 && size > (size_t) n->max_items) {
        ngx_http_kafka_schema_report(ctx, NULL, "maxItems",
                                     "must have at most %ld items",
                                     n->max_items);
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (n->unique_items) {
        for (i = 0; i < size; i++) {
            for (j = i + 1; j < size; j++) {
                if (ngx_http_kafka_schema_equal(json_array_get(inst, i),
                                                json_array_get(inst, j)))
                {
                    ngx_http_kafka_schema_report(ctx, NULL, "uniqueItems",
                                          "items %zu and %zu are equal",
                                          i, j);
                    NGX_HTTP_KAFKA_SCHEMA_FAIL;
                    i = size;
                    break;
                }
            }
        }
    }

    np = n->prefix_items.n < size ? n->prefix_items.n : size;

    for (i = 0; i < np; i++) {
        if (!ngx_http_kafka_schema_check_child(ctx, n->prefix_items.elts[i],
                                               json_array_get(inst, i),
                                               NULL, i))
        {
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }

        ngx_http_kafka_schema_eval_set(ev, i);
    }

    if (n->items != NULL) {
        for (i = n->prefix_items.n; i < size; i++) {
            if (!ngx_http_kafka_schema_check_child(ctx, n->items,
                                                   json_array_get(inst, i),
                                                   NULL, i))
            {
                NGX_HTTP_KAFKA_SCHEMA_FAIL;
            }

            ngx_http_kafka_schema_eval_set(ev, i);
        }
    }

    if (n->contains == NULL) {
        return valid;
    }

    count = 0;
    saved = ctx->collect;
    ctx->collect = 0;

    for (i = 0; i < size; i++) {
        if (ngx_http_kafka_schema_check(ctx, n->contains,
                                        json_array_get(inst, i), NULL))
        {
            count++;
            ngx_http_kafka_schema_eval_set(ev, i);

            if (ev == NULL && n->max_contains < 0
                && count >= n->min_contains)
            {
                break;
            }
        }
    }

    ctx->collect = saved;

    if (count < n->min_contains) {
        ngx_http_kafka_schema_report(ctx, NULL,
                              n->min_contains == 1 ? "contains"
                                                   : "minContains",
                              "must contain at least %ld matching item%s",
                              n->min_contains,
                              n->min_contains == 1 ? "" : "s");
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (n->max_contains >= 0 && count > n->max_contains) {
        ngx_http_kafka_schema_report(ctx, NULL, "maxContains",
                              "must contain at most %ld matching items",
                              n->max_contains);
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    return valid;
}


static int
ngx_http_kafka_schema_check_object(ngx_http_kafka_schema_ctx_t *ctx,
    ngx_http_kafka_schema_node_t *n, json_t *inst,
    ngx_http_kafka_schema_eval_t *ev)
{
    int                           valid, matched, saved, ok;
    size_t                        i, k, size;
    json_t                       *v, *idx, *name;
    const char                   *key, *req;
    ngx_http_kafka_schema_dep_t  *dep;

    valid = 1;
    size = json_object_size(inst);

    if (n->min_properties >= 0 && size < (size_t) n->min_properties) {
        ngx_http_kafka_schema_report(ctx, NULL, "minProperties",
                                     "must have at least %ld properties",
                                     n->min_properties);
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (n->max_properties >= 0 && size > (size_t) n->max_properties) {
        ngx_http_kafka_schema_report(ctx, NULL, "maxProperties",
                                     "must have at most %ld properties",
                                     n->max_properties);
        NGX_HTTP_KAFKA_SCHEMA_FAIL;
    }

    if (n->required != NULL) {
        for (i = 0; i < json_array_size(n->required); i++) {
            req = json_string_value(json_array_get(n->required, i));

            if (json_object_get(inst, req) == NULL) {
                ngx_http_kafka_schema_report(ctx, NULL, "required",
                                      "required property \"%.64s\" is missing",
                                      req);
                NGX_HTTP_KAFKA_SCHEMA_FAIL;
            }
        }
    }

    for (i = 0; i < n->ndeps; i++) {
        dep = &n->deps[i];

        if (json_object_get(inst, dep->name) == NULL) {
            continue;
        }

        if (dep->node != NULL) {
            if (!ngx_http_kafka_schema_check(ctx, dep->node, inst, ev)) {
                NGX_HTTP_KAFKA_SCHEMA_FAIL;
            }

            continue;
        }

        for (k = 0; k < json_array_size(dep->required); k++) {
            req = json_string_value(json_array_get(dep->required, k));

            if (json_object_get(inst, req) == NULL) {
                ngx_http_kafka_schema_report(ctx, NULL,
                    n->draft == NGX_HTTP_KAFKA_SCHEMA_DRAFT7
                    ? "dependencies" : "dependentRequired",
                    "property \"%.64s\" is required when \"%.64s\" is present",
                    req, dep->name);
                NGX_HTTP_KAFKA_SCHEMA_FAIL;
            }
        }
    }

    if (n->props == NULL && n->patterns == NULL
        && n->additional_properties == NULL && n->property_names == NULL)
    {
        return valid;
    }

    i = 0;

    json_object_foreach(inst, key, v) {
        matched = 0;

        if (n->prop_index != NULL) {
            idx = json_object_get(n->prop_index, key);

            if (idx != NULL) {
                matched = 1;

                if (!ngx_http_kafka_schema_check_child(ctx,
                                n->props[json_integer_value(idx)].node, v,
                                key, 0))
                {
                    NGX_HTTP_KAFKA_SCHEMA_FAIL;
                }
            }
        }

        for (k = 0; k < n->npatterns; k++) {
            if (pcre2_match(n->patterns[k].re->code, (PCRE2_SPTR) key,
                            strlen(key), 0, 0, ctx->schema->match, NULL)
                < 0)
            {
                continue;
            }

            matched = 1;

            if (!ngx_http_kafka_schema_check_child(ctx, n->patterns[k].node,
                                                   v, key, 0))
            {
                NGX_HTTP_KAFKA_SCHEMA_FAIL;
            }
        }

        if (!matched && n->additional_properties != NULL) {
            matched = 1;

            if (n->additional_properties == &ctx->schema->false_node) {
                ngx_http_kafka_schema_report(ctx, key,
                                             "additionalProperties",
                                             "property \"%.64s\" is not "
                                             "allowed", key);
                NGX_HTTP_KAFKA_SCHEMA_FAIL;

            } else if (!ngx_http_kafka_schema_check_child(ctx,
                                             n->additional_properties, v,
                                             key, 0))
            {
                NGX_HTTP_KAFKA_SCHEMA_FAIL;
            }
        }

        if (matched) {
            ngx_http_kafka_schema_eval_set(ev, i);
        }

        if (n->property_names != NULL) {
            name = json_string(key);
            saved = ctx->collect;
            ctx->collect = 0;
            ok = (name != NULL)
                 && ngx_http_kafka_schema_check(ctx, n->property_names, name,
                                                NULL);
            ctx->collect = saved;
            json_decref(name);

            if (!ok) {
                ngx_http_kafka_schema_report(ctx, NULL, "propertyNames",
                                             "property name \"%.64s\" is "
                                             "not allowed", key);
                NGX_HTTP_KAFKA_SCHEMA_FAIL;
            }
        }

        i++;
    }

    return valid;
}


/* allOf, anyOf, oneOf, not, if-then-else: all at the same location */

static int
ngx_http_kafka_schema_check_applicators(ngx_http_kafka_schema_ctx_t *ctx,
    ngx_http_kafka_schema_node_t *n, json_t *inst,
    ngx_http_kafka_schema_eval_t *ev)
{
    int                            valid, saved, ok;
    size_t                         i, count;
    ngx_http_kafka_schema_eval_t   tmp, *use;

    valid = 1;

    for (i = 0; i < n->all_of.n; i++) {
        if (!ngx_http_kafka_schema_check(ctx, n->all_of.elts[i], inst, ev)) {
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }
    }

    saved = ctx->collect;

    if (n->any_of.n) {
        ctx->collect = 0;
        count = 0;

        for (i = 0; i < n->any_of.n; i++) {
            use = (ev && ngx_http_kafka_schema_eval_init(&tmp, inst) == 0)
                  ? &tmp : NULL;

            ok = ngx_http_kafka_schema_check(ctx, n->any_of.elts[i], inst,
                                             use);
            if (use) {
                if (ok) {
                    ngx_http_kafka_schema_eval_merge(ev, use);
                }

                ngx_http_kafka_schema_eval_free(use);
            }

            if (ok) {
                count++;

                if (ev == NULL) {
                    break;
                }
            }
        }

        ctx->collect = saved;

        if (count == 0) {
            ngx_http_kafka_schema_report(ctx, NULL, "anyOf",
                                  "must match at least one of %zu schemas",
                                  n->any_of.n);
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }
    }

    if (n->one_of.n) {
        ctx->collect = 0;
        count = 0;

        for (i = 0; i < n->one_of.n; i++) {
            use = (ev && ngx_http_kafka_schema_eval_init(&tmp, inst) == 0)
                  ? &tmp : NULL;

            ok = ngx_http_kafka_schema_check(ctx, n->one_of.elts[i], inst,
                                             use);
            if (use) {
                if (ok) {
                    ngx_http_kafka_schema_eval_merge(ev, use);
                }

                ngx_http_kafka_schema_eval_free(use);
            }

            if (ok && ++count > 1 && ev == NULL) {
                break;
            }
        }

        ctx->collect = saved;

        if (count != 1) {
            ngx_http_kafka_schema_report(ctx, NULL, "oneOf",
                                  "must match exactly one of %zu schemas, "
                                  "matches %s", n->one_of.n,
                                  count ? "more" : "none");
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }
    }

    if (n->not != NULL) {
        ctx->collect = 0;
        ok = ngx_http_kafka_schema_check(ctx, n->not, inst, NULL);
        ctx->collect = saved;

        if (ok) {
            ngx_http_kafka_schema_report(ctx, NULL, "not",
                                  "must not match the schema of \"not\"");
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }
    }

    if (n->if_ != NULL && (n->then_ || n->else_ || ev)) {
        ctx->collect = 0;
        use = (ev && ngx_http_kafka_schema_eval_init(&tmp, inst) == 0)
              ? &tmp : NULL;

        ok = ngx_http_kafka_schema_check(ctx, n->if_, inst, use);

        if (use) {
            if (ok) {
                ngx_http_kafka_schema_eval_merge(ev, use);
            }

            ngx_http_kafka_schema_eval_free(use);
        }

        ctx->collect = saved;

        if (ok && n->then_
            && !ngx_http_kafka_schema_check(ctx, n->then_, inst, ev))
        {
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }

        if (!ok && n->else_
            && !ngx_http_kafka_schema_check(ctx, n->else_, inst, ev))
        {
            NGX_HTTP_KAFKA_SCHEMA_FAIL;
        }
    }

    return valid;
}


static int
ngx_http_kafka_schema_check_unevaluated(ngx_http_kafka_schema_ctx_t *ctx,
    ngx_http_kafka_schema_node_t *n, json_t *inst,
    ngx_http_kafka_schema_eval_t *ev)
{
    int          valid;
    size_t       i;
    json_t      *v;
    const char  *key;

    valid = 1;

    if (n->unevaluated_properties != NULL && json_is_object(inst)) {
        i = 0;

        json_object_foreach(inst, key, v) {
            if (!ngx_http_kafka_schema_eval_get(ev, i)) {
                if (n->unevaluated_properties == &ctx->schema->false_node) {
                    ngx_http_kafka_schema_report(ctx, key,
                                          "unevaluatedProperties",
                                          "property \"%.64s\" is not allowed",
                                          key);
                    NGX_HTTP_KAFKA_SCHEMA_FAIL;

                } else if (!ngx_http_kafka_schema_check_child(ctx,
                                            n->unevaluated_properties, v,
                                            key, 0))
                {
                    NGX_HTTP_KAFKA_SCHEMA_FAIL;
                }

                ngx_http_kafka_schema_eval_set(ev, i);
            }

            i++;
        }
    }

    if (n->unevaluated_items != NULL && json_is_array(inst)) {
        for (i = 0; i < json_array_size(inst); i++) {
            if (ngx_http_kafka_schema_eval_get(ev, i)) {
                continue;
            }

            if (!ngx_http_kafka_schema_check_child(ctx, n->unevaluated_items,
                                                   json_array_get(inst, i),
                                                   NULL, i))
            {
                NGX_HTTP_KAFKA_SCHEMA_FAIL;
            }

            ngx_http_kafka_schema_eval_set(ev, i);
        }
    }

    return valid;
}


/* a property's or item's value: one step deeper in the instance */

static int
ngx_http_kafka_schema_check_child(ngx_http_kafka_schema_ctx_t *ctx,
    ngx_http_kafka_schema_node_t *n, json_t *inst, const char *key,
    size_t index)
{
    int  rc;

    if (ctx->npath < NGX_HTTP_KAFKA_SCHEMA_MAX_DEPTH) {
        ctx->path[ctx->npath].key = key;
        ctx->path[ctx->npath].index = index;
    }

    ctx->npath++;
    rc = ngx_http_kafka_schema_check(ctx, n, inst, NULL);
    ctx->npath--;

    return rc;
}


/*
 * $dynamicRef to a $dynamicAnchor: the outermost resource of the dynamic
 * scope with a $dynamicAnchor of that name wins.
 */

static ngx_http_kafka_schema_node_t *
ngx_http_kafka_schema_dynamic(ngx_http_kafka_schema_ctx_t *ctx,
    ngx_http_kafka_schema_node_t *n)
{
    int                              i;
    ngx_http_kafka_schema_node_t    *node;
    ngx_http_kafka_schema_anchor_t  *a;

    if (n->dynamic_name == NULL) {
        return n->dynamic_ref_node;
    }

    for (i = 0; i < ctx->nscope; i++) {
        for (a = ctx->schema->anchors; a; a = a->next) {
            if (a->dynamic && a->resource == ctx->scope[i]
                && strcmp(a->name, n->dynamic_name) == 0)
            {
                node = ngx_http_kafka_schema_map_get(ctx->schema, a->target);
                if (node != NULL) {
                    return node;
                }
            }
        }
    }

    return n->dynamic_ref_node;
}


/* a violation at the current instance location (or its property "key") */

static void
ngx_http_kafka_schema_report(ngx_http_kafka_schema_ctx_t *ctx,
    const char *key, const char *keyword, const char *fmt, ...)
{
    char         *p, *end;
    size_t        i, n;
    va_list       args;
    const char   *c;
    char          pointer[NGX_HTTP_KAFKA_SCHEMA_PATH], msg[512];

    if (!ctx->collect || ctx->full) {
        return;
    }

    p = pointer;
    end = pointer + sizeof(pointer) - 1;
    n = ctx->npath < NGX_HTTP_KAFKA_SCHEMA_MAX_DEPTH
        ? ctx->npath : NGX_HTTP_KAFKA_SCHEMA_MAX_DEPTH;

    for (i = 0; i <= n && p < end; i++) {
        c = (i < n) ? ctx->path[i].key : key;

        if (i == n && key == NULL) {
            break;
        }

        *p++ = '/';

        if (c == NULL) {
            p += snprintf(p, end - p, "%zu", ctx->path[i].index);
            if (p > end) {
                p = end;
            }

            continue;
        }

        for ( /* void */ ; *c && p < end; c++) {
            if (*c == '~' || *c == '/') {
                *p++ = '~';
                if (p == end) {
                    break;
                }

                *p++ = (*c == '~') ? '0' : '1';

            } else {
                *p++ = *c;
            }
        }
    }

    *p = '\0';

    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    if (ctx->error(ctx->data, pointer, keyword, msg) != 0) {
        ctx->full = 1;
    }

    if (++ctx->nerrors >= ctx->max_errors) {
        ctx->full = 1;
    }
}


static int
ngx_http_kafka_schema_eval_init(ngx_http_kafka_schema_eval_t *ev,
    json_t *inst)
{
    size_t  words;

    ev->n = json_is_object(inst) ? json_object_size(inst)
                                 : json_array_size(inst);
    words = (ev->n + 63) / 64;

    if (words <= sizeof(ev->small) / sizeof(uint64_t)) {
        memset(ev->small, 0, sizeof(ev->small));
        ev->bits = ev->small;
        return 0;
    }

    ev->bits = calloc(words, sizeof(uint64_t));

    return ev->bits ? 0 : -1;
}


static void
ngx_http_kafka_schema_eval_set(ngx_http_kafka_schema_eval_t *ev, size_t i)
{
    if (ev != NULL && i < ev->n) {
        ev->bits[i / 64] |= (uint64_t) 1 << (i % 64);
    }
}


static int
ngx_http_kafka_schema_eval_get(ngx_http_kafka_schema_eval_t *ev, size_t i)
{
    return ev != NULL && i < ev->n
           && (ev->bits[i / 64] & ((uint64_t) 1 << (i % 64)));
}


static void
ngx_http_kafka_schema_eval_merge(ngx_http_kafka_schema_eval_t *dst,
    ngx_http_kafka_schema_eval_t *src)
{
    size_t  i;

    for (i = 0; i < (dst->n + 63) / 64 && i < (src->n + 63) / 64; i++) {
        dst->bits[i] |= src->bits[i];
    }
}


static void
ngx_http_kafka_schema_eval_free(ngx_http_kafka_schema_eval_t *ev)
{
    if (ev->bits != ev->small) {
        free(ev->bits);
    }
}


static unsigned
ngx_http_kafka_schema_type(json_t *v)
{
    double  d;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return NGX_HTTP_KAFKA_SCHEMA_T_OBJECT;
    case JSON_ARRAY:
        return NGX_HTTP_KAFKA_SCHEMA_T_ARRAY;
    case JSON_STRING:
        return NGX_HTTP_KAFKA_SCHEMA_T_STRING;
    case JSON_INTEGER:
        return NGX_HTTP_KAFKA_SCHEMA_T_NUMBER|NGX_HTTP_KAFKA_SCHEMA_T_INTEGER;
    case JSON_REAL:
        d = json_real_value(v);
        return (isfinite(d) && d == floor(d))
               ? NGX_HTTP_KAFKA_SCHEMA_T_NUMBER
                 |NGX_HTTP_KAFKA_SCHEMA_T_INTEGER
               : NGX_HTTP_KAFKA_SCHEMA_T_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE:
        return NGX_HTTP_KAFKA_SCHEMA_T_BOOLEAN;
    default:
        return NGX_HTTP_KAFKA_SCHEMA_T_NULL;
    }
}


static const char *
ngx_http_kafka_schema_type_name(json_t *v)
{
    unsigned  t;

    t = ngx_http_kafka_schema_type(v);

    switch (t) {
    case NGX_HTTP_KAFKA_SCHEMA_T_OBJECT:
        return "object";
    case NGX_HTTP_KAFKA_SCHEMA_T_ARRAY:
        return "array";
    case NGX_HTTP_KAFKA_SCHEMA_T_STRING:
        return "string";
    case NGX_HTTP_KAFKA_SCHEMA_T_NUMBER:
        return "number";
    case NGX_HTTP_KAFKA_SCHEMA_T_BOOLEAN:
        return "boolean";
    case NGX_HTTP_KAFKA_SCHEMA_T_NULL:
        return "null";
    default:
        return "integer";
    }
}


/* JSON equality: 1 equals 1.0, key order does not matter */

static int
ngx_http_kafka_schema_equal(json_t *a, json_t *b)
{
    size_t       i;
    json_t      *v;
    const char  *key;

    if (json_is_number(a) && json_is_number(b)) {
        return ngx_http_kafka_schema_compare(a, b) == 0;
    }

    if (json_typeof(a) != json_typeof(b)) {
        return 0;
    }

    switch (json_typeof(a)) {

    case JSON_STRING:
        return json_string_length(a) == json_string_length(b)
               && memcmp(json_string_value(a), json_string_value(b),
                         json_string_length(a)) == 0;

    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b)) {
            return 0;
        }

        for (i = 0; i < json_array_size(a); i++) {
            if (!ngx_http_kafka_schema_equal(json_array_get(a, i),
                                             json_array_get(b, i)))
            {
                return 0;
            }
        }

        return 1;

    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b)) {
            return 0;
        }

        json_object_foreach(a, key, v) {
            json_t  *w = json_object_get(b, key);

            if (w == NULL || !ngx_http_kafka_schema_equal(v, w)) {
                return 0;
            }
        }

        return 1;

    default:
        return 1;
    }
}


static int
ngx_http_kafka_schema_compare(json_t *a, json_t *b)
{
    long double  x, y;

    if (json_is_integer(a) && json_is_integer(b)) {
        return (json_integer_value(a) > json_integer_value(b))
               - (json_integer_value(a) < json_integer_value(b));
    }

    x = json_is_integer(a) ? (long double) json_integer_value(a)
                           : (long double) json_real_value(a);
    y = json_is_integer(b) ? (long double) json_integer_value(b)
                           : (long double) json_real_value(b);

    return (x > y) - (x < y);
}


static int
ngx_http_kafka_schema_multiple(json_t *v, json_t *d)
{
    double  q;

    if (json_is_integer(v) && json_is_integer(d)) {
        return json_integer_value(v) % json_integer_value(d) == 0;
    }

    /* in doubles, as the values are: 0.0075 / 0.0001 is 74.99999999999999 */
    q = json_number_value(v) / json_number_value(d);

    if (!isfinite(q)) {
        return 0;
    }

    return fabs(q - round(q)) < 1e-9;
}


static void
ngx_http_kafka_schema_number_text(json_t *v, char *buf, size_t len)
{
    if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));

    } else {
        snprintf(buf, len, "%.15g", json_real_value(v));
    }
}


/* code points of a valid UTF-8 string (jansson checks them) */

static size_t
ngx_http_kafka_schema_utf8_length(const char *s, size_t len)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (((unsigned char) s[i] & 0xc0) != 0x80) {
            n++;
        }
    }

    return n;
}
