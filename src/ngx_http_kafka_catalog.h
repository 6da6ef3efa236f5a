
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_CATALOG_H_INCLUDED_
#define _NGX_HTTP_KAFKA_CATALOG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_kafka_asyncapi.h"


/*
 * What the catalog files share: the event products of a server{}, found
 * at configuration time (ngx_http_kafka_catalog.c), the AsyncAPI document
 * built from them per request (ngx_http_kafka_catalog_doc.c), the page
 * rendered from that document (ngx_http_kafka_catalog_html.c) and its
 * YAML form (ngx_http_kafka_catalog_yaml.c).
 */


/*
 * One location that produces to or streams from Kafka.  A product with a
 * fixed topic has a known path; a templated one ("{topic}" in its
 * kafka_catalog_path) stands for every topic of the cluster that its
 * location's regex admits.  Everything points into the cycle's memory
 * and is read-only once configured.
 */

typedef struct {
    ngx_str_t                          location;  /* for messages */
    ngx_str_t                          path;      /* or the template */
    ngx_str_t                          topic;     /* empty: templated */
    ngx_uint_t                         action;    /* _ACTION_PRODUCE... */
#if (NGX_PCRE)
    ngx_http_regex_t                  *regex;     /* the location's */
#endif

    json_t                            *schema;    /* value, or NULL */
    json_t                            *schema_doc; /* its $refs' root */
    ngx_http_kafka_asyncapi_t         *asyncapi;  /* kafka_asyncapi */

    /* kafka_consume_sse */
    ngx_str_t                          event;     /* empty: the topic */
    ngx_uint_t                         format;    /* _SSE_VALUE, _JSON */
    ngx_uint_t                         start;     /* _SSE_LATEST... */
    ngx_msec_t                         retry;

    unsigned                           jwt:1;     /* kafka_jwt on */
    unsigned                           key:1;     /* kafka_produce_key */
    unsigned                           filter_key:1;
} ngx_http_kafka_catalog_product_t;


typedef struct {
    ngx_array_t                        products;  /* _product_t */
    ngx_array_t                        left_out;  /* ngx_str_t: why */
    unsigned                           catalog:1; /* the server has one */
    unsigned                           templated:1;
} ngx_http_kafka_catalog_srv_conf_t;


typedef struct {
    ngx_str_t                          title;
    ngx_str_t                          version;
    ngx_str_t                          description;
    ngx_str_t                          path;      /* kafka_catalog_path */
    unsigned                           catalog:1;
} ngx_http_kafka_catalog_loc_conf_t;


/* a topic of a product, as the caller may see it */
typedef struct {
    ngx_http_kafka_catalog_product_t  *product;
    ngx_str_t                          topic;
    ngx_str_t                          path;      /* template filled in */
} ngx_http_kafka_catalog_entry_t;


extern ngx_module_t  ngx_http_kafka_catalog_module;


/* ngx_http_kafka_catalog_doc.c: the AsyncAPI 3.0 document */
json_t *ngx_http_kafka_catalog_document(ngx_http_request_t *r,
    ngx_http_kafka_catalog_loc_conf_t *lcf, ngx_array_t *entries);

/* ngx_http_kafka_catalog_html.c: the page for people, from the document */
ngx_int_t ngx_http_kafka_catalog_html(ngx_http_request_t *r, json_t *doc,
    ngx_str_t *out);

/* ngx_http_kafka_catalog_yaml.c: the document in YAML */
ngx_int_t ngx_http_kafka_catalog_yaml(ngx_http_request_t *r, json_t *doc,
    ngx_str_t *out);


#endif /* _NGX_HTTP_KAFKA_CATALOG_H_INCLUDED_ */
