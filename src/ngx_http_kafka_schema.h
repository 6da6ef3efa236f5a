
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_SCHEMA_H_INCLUDED_
#define _NGX_HTTP_KAFKA_SCHEMA_H_INCLUDED_


#include <stddef.h>
#include <jansson.h>


/*
 * A JSON Schema validator (draft 2020-12 and draft-07) on jansson.  It
 * knows nothing of nginx: a schema is compiled once, at configuration
 * time, into a graph of nodes that the validation walks; the validation
 * allocates nothing but scratch bitmaps for unevaluated* and needs no
 * request.  tools/schema-suite.c runs the official test suite through the
 * same two calls.
 *
 * A compiled schema owns its memory (malloc) and is freed by
 * ngx_http_kafka_schema_free(); it keeps references to the jansson
 * documents it was compiled from.  Validation is not reentrant for one
 * schema (it reuses the regex match data): one worker, one request at a
 * time, as nginx runs.
 */


#define NGX_HTTP_KAFKA_SCHEMA_DRAFT7       7
#define NGX_HTTP_KAFKA_SCHEMA_DRAFT2020    2020


typedef struct ngx_http_kafka_schema_s  ngx_http_kafka_schema_t;


/*
 * options->document: the document that doc is part of (an AsyncAPI
 * document's message payload), against which "#/..." references resolve;
 * "formats" of the validation makes "format" assert (date-time, date,
 * email, uuid, ipv4, ipv6, uri), otherwise it is an annotation.
 *
 * Loads the document at an absolute URI (without fragment) that a $ref
 * names and the compiled schema does not hold; returns a new reference or
 * NULL with a message in err.
 */
typedef json_t *(*ngx_http_kafka_schema_load_pt)(const char *uri,
    void *data, char *err, size_t len);


typedef struct {
    int                                draft;    /* without $schema */
    const char                        *base;     /* the document's URI */
    json_t                            *document; /* holds doc, or NULL */
    ngx_http_kafka_schema_load_pt      load;
    void                              *data;
} ngx_http_kafka_schema_options_t;


/* a violation: the instance location, the keyword, a sentence */
typedef int (*ngx_http_kafka_schema_error_pt)(void *data,
    const char *pointer, const char *keyword, const char *message);


ngx_http_kafka_schema_t *ngx_http_kafka_schema_compile(json_t *doc,
    ngx_http_kafka_schema_options_t *options, char *err, size_t len);
int ngx_http_kafka_schema_validate(ngx_http_kafka_schema_t *schema,
    json_t *instance, int formats, size_t max_errors,
    ngx_http_kafka_schema_error_pt error, void *data);
void ngx_http_kafka_schema_free(ngx_http_kafka_schema_t *schema);

/*
 * For the catalog: the JSON a schema was compiled from and, in
 * "document", the document that its "#/..." references resolve against
 * (both borrowed).
 */
json_t *ngx_http_kafka_schema_json(ngx_http_kafka_schema_t *schema,
    json_t **document);

/* ngx_http_kafka_schema_format.c: 1 valid, 0 invalid, -1 unknown format */
int ngx_http_kafka_schema_format(const char *format, const char *s,
    size_t len);


#endif /* _NGX_HTTP_KAFKA_SCHEMA_H_INCLUDED_ */
