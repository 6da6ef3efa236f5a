
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_ASYNCAPI_H_INCLUDED_
#define _NGX_HTTP_KAFKA_ASYNCAPI_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_http_kafka_schema.h"


/*
 * An AsyncAPI document (3.x or 2.x, YAML or JSON) loaded at configuration
 * time: its channels by Kafka topic, each with its messages and their
 * payload schemas compiled.  Everything lives as long as the cycle's pool
 * (cleanups free the schemas and the documents); nothing changes after
 * loading, so workers share it read-only.
 */

typedef struct {
    ngx_str_t                          name;      /* the message's key */
    json_t                            *json;      /* $refs followed */
    ngx_http_kafka_schema_t           *payload;   /* NULL: any payload */
    ngx_http_kafka_schema_t           *key;       /* bindings.kafka.key */
} ngx_http_kafka_asyncapi_message_t;


typedef struct {
    ngx_str_t                          topic;
    ngx_str_t                          name;      /* the channel's key */
    json_t                            *json;
    ngx_array_t                        messages;  /* _message_t */
} ngx_http_kafka_asyncapi_channel_t;


typedef struct {
    ngx_str_t                          file;
    ngx_str_t                          version;   /* "3.0.0", "2.6.0" */
    json_t                            *doc;
    json_t                            *docs;      /* every file read */
    ngx_array_t                        channels;  /* _channel_t */
} ngx_http_kafka_asyncapi_t;


ngx_http_kafka_asyncapi_t *ngx_http_kafka_asyncapi_load(ngx_conf_t *cf,
    ngx_str_t *file);
ngx_http_kafka_asyncapi_channel_t *ngx_http_kafka_asyncapi_channel(
    ngx_http_kafka_asyncapi_t *api, ngx_str_t *topic);

/* a JSON Schema file (or a YAML one), compiled; logs what is wrong */
ngx_http_kafka_schema_t *ngx_http_kafka_asyncapi_schema(ngx_conf_t *cf,
    ngx_str_t *file);


#endif /* _NGX_HTTP_KAFKA_ASYNCAPI_H_INCLUDED_ */
