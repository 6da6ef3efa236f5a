
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yaml.h>
#include <jansson.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_catalog.h"


/*
 * The catalog in YAML (?format=yaml, Accept: application/yaml), written by
 * libyaml's emitter from the same document.  A string is plain only when
 * YAML cannot read it as anything else (a name such as "orders" or
 * "$ref"); otherwise it is quoted, so "1.0" stays a string.
 */


#define NGX_HTTP_KAFKA_CATALOG_YAML_DEPTH  128


static ngx_int_t ngx_http_kafka_catalog_yaml_node(yaml_emitter_t *em,
    json_t *v, ngx_uint_t depth);
static ngx_int_t ngx_http_kafka_catalog_yaml_string(yaml_emitter_t *em,
    const char *s, size_t len);
static ngx_int_t ngx_http_kafka_catalog_yaml_plain(yaml_emitter_t *em,
    const char *s);
static int ngx_http_kafka_catalog_yaml_write(void *data, unsigned char *buf,
    size_t size);


/* names that YAML 1.1 readers take for booleans or null */
static const char  *ngx_http_kafka_catalog_yaml_words[] = {
    "true", "false", "null", "yes", "no", "on", "off", "y", "n", NULL
};


ngx_int_t
ngx_http_kafka_catalog_yaml(ngx_http_request_t *r, json_t *doc,
    ngx_str_t *out)
{
    ngx_int_t       rc;
    ngx_array_t     buf;
    yaml_event_t    ev;
    yaml_emitter_t  em;

    if (ngx_array_init(&buf, r->pool, 16384, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!yaml_emitter_initialize(&em)) {
        return NGX_ERROR;
    }

    yaml_emitter_set_output(&em, ngx_http_kafka_catalog_yaml_write, &buf);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);

    rc = NGX_ERROR;

    if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING)
        || !yaml_emitter_emit(&em, &ev))
    {
        goto done;
    }

    if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1)
        || !yaml_emitter_emit(&em, &ev))
    {
        goto done;
    }

    if (ngx_http_kafka_catalog_yaml_node(&em, doc, 0) != NGX_OK) {
        goto done;
    }

    if (!yaml_document_end_event_initialize(&ev, 1)
        || !yaml_emitter_emit(&em, &ev)
        || !yaml_stream_end_event_initialize(&ev)
        || !yaml_emitter_emit(&em, &ev)
        || !yaml_emitter_flush(&em))
    {
        goto done;
    }

    out->data = buf.elts;
    out->len = buf.nelts;
    rc = NGX_OK;

done:

    yaml_emitter_delete(&em);

    return rc;
}


static ngx_int_t
ngx_http_kafka_catalog_yaml_node(yaml_emitter_t *em, json_t *v,
    ngx_uint_t depth)
{
    char          num[64];
    size_t        i;
    json_t       *item;
    const char   *key;
    yaml_event_t  ev;

    if (depth > NGX_HTTP_KAFKA_CATALOG_YAML_DEPTH) {
        return NGX_ERROR;
    }

    switch (json_typeof(v)) {

    case JSON_OBJECT:
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                 YAML_ANY_MAPPING_STYLE)
            || !yaml_emitter_emit(em, &ev))
        {
            return NGX_ERROR;
        }

        json_object_foreach(v, key, item) {
            if (ngx_http_kafka_catalog_yaml_string(em, key, ngx_strlen(key))
                != NGX_OK
                || ngx_http_kafka_catalog_yaml_node(em, item, depth + 1)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (!yaml_mapping_end_event_initialize(&ev)
            || !yaml_emitter_emit(em, &ev))
        {
            return NGX_ERROR;
        }

        return NGX_OK;

    case JSON_ARRAY:
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                  YAML_ANY_SEQUENCE_STYLE)
            || !yaml_emitter_emit(em, &ev))
        {
            return NGX_ERROR;
        }

        json_array_foreach(v, i, item) {
            if (ngx_http_kafka_catalog_yaml_node(em, item, depth + 1)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (!yaml_sequence_end_event_initialize(&ev)
            || !yaml_emitter_emit(em, &ev))
        {
            return NGX_ERROR;
        }

        return NGX_OK;

    case JSON_STRING:
        return ngx_http_kafka_catalog_yaml_string(em, json_string_value(v),
                                                  json_string_length(v));

    case JSON_INTEGER:
        ngx_snprintf((u_char *) num, sizeof(num), "%L%Z",
                     (int64_t) json_integer_value(v));
        return ngx_http_kafka_catalog_yaml_plain(em, num);

    case JSON_REAL:
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        return ngx_http_kafka_catalog_yaml_plain(em, num);

    case JSON_TRUE:
        return ngx_http_kafka_catalog_yaml_plain(em, "true");

    case JSON_FALSE:
        return ngx_http_kafka_catalog_yaml_plain(em, "false");

    default:
        return ngx_http_kafka_catalog_yaml_plain(em, "null");
    }
}


static ngx_int_t
ngx_http_kafka_catalog_yaml_string(yaml_emitter_t *em, const char *s,
    size_t len)
{
    size_t                i;
    ngx_uint_t            plain;
    const char          **w;
    yaml_event_t          ev;
    yaml_scalar_style_t   style;

    /* a name: a letter, "_" or "$", then letters, digits, "_.-$" */

    plain = (len > 0
             && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')
                 || s[0] == '_' || s[0] == '$'));

    for (i = 1; plain && i < len; i++) {
        plain = ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
                 || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'
                 || s[i] == '.' || s[i] == '-' || s[i] == '$');
    }

    for (w = ngx_http_kafka_catalog_yaml_words; plain && *w; w++) {
        if (ngx_strlen(*w) == len
            && ngx_strncasecmp((u_char *) s, (u_char *) *w, len) == 0)
        {
            plain = 0;
        }
    }

    style = plain ? YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE;

    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *) s,
                                      (int) len, 1, 1, style)
        || !yaml_emitter_emit(em, &ev))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kafka_catalog_yaml_plain(yaml_emitter_t *em, const char *s)
{
    yaml_event_t  ev;

    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *) s,
                                      (int) ngx_strlen(s), 1, 0,
                                      YAML_PLAIN_SCALAR_STYLE)
        || !yaml_emitter_emit(em, &ev))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static int
ngx_http_kafka_catalog_yaml_write(void *data, unsigned char *buf,
    size_t size)
{
    u_char       *p;
    ngx_array_t  *a = data;

    if (size == 0) {
        return 1;
    }

    p = ngx_array_push_n(a, size);
    if (p == NULL) {
        return 0;
    }

    ngx_memcpy(p, buf, size);

    return 1;
}
