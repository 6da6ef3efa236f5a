
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_PRODUCE_H_INCLUDED_
#define _NGX_HTTP_KAFKA_PRODUCE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_producer.h"
#include "ngx_http_kafka_rest.h"


/*
 * The state of a produce request, shared by the content handler
 * (ngx_http_kafka_produce_module.c) and the REST v2 envelope parser and
 * response writer (ngx_http_kafka_rest.c).
 */

#define NGX_HTTP_KAFKA_FORMAT_RAW      0
#define NGX_HTTP_KAFKA_FORMAT_JSON     1
#define NGX_HTTP_KAFKA_FORMAT_BINARY   2
#define NGX_HTTP_KAFKA_FORMAT_DELETE   3    /* a tombstone for the key */


typedef struct {
    ngx_str_t                          name;
    ngx_http_complex_value_t           value;
} ngx_http_kafka_produce_header_t;


typedef struct {
    ngx_http_complex_value_t          *topic;
    ngx_http_complex_value_t          *key;
    ngx_http_complex_value_t          *partition;
    ngx_array_t                       *headers;
    ngx_flag_t                         ack;
    ngx_msec_t                         timeout;
} ngx_http_kafka_produce_loc_conf_t;


typedef struct {
    u_char                            *key;
    size_t                             key_len;
    u_char                            *value;
    size_t                             value_len;
    int32_t                            partition;
    u_char                            *annotation;  /* contract.c */
    size_t                             annotation_len;
} ngx_http_kafka_produce_record_t;


typedef struct ngx_http_kafka_produce_batch_s  ngx_http_kafka_produce_batch_t;

typedef struct {
    ngx_http_kafka_dr_t                dr;       /* must be first */
    ngx_http_kafka_produce_batch_t    *batch;
    int32_t                            partition;
    int64_t                            offset;
    rd_kafka_resp_err_t                err;
    rd_kafka_msg_status_t              status;
    unsigned                           reported:1;
} ngx_http_kafka_produce_token_t;


struct ngx_http_kafka_produce_batch_s {
    ngx_http_request_t                *request;
    ngx_uint_t                         pending;
    ngx_uint_t                         ntokens;
    ngx_http_kafka_produce_token_t     tokens[1];
};


struct ngx_http_kafka_produce_ctx_s {
    ngx_str_t                          topic;       /* NUL-terminated */
    ngx_uint_t                         format;
    ngx_http_kafka_produce_batch_t    *batch;
    ngx_event_t                        timer;

    /* the header of records' contract annotations (contract.c) */
    ngx_str_t                         *annotation_header;

    /* why the body was refused, set by ngx_http_kafka_rest_invalid() */
    ngx_uint_t                         invalid_code;
    ngx_str_t                          invalid;

    /* the last record's outcome, for the $kafka_* variables */
    int32_t                            partition;
    int64_t                            offset;
    ngx_str_t                          error;

    /* $kafka_ack_time: the last acknowledgement, from the request start */
    ngx_msec_t                         ack_time;
    unsigned                           acked:1;
};


extern u_char  ngx_http_kafka_produce_empty[];


#endif /* _NGX_HTTP_KAFKA_PRODUCE_H_INCLUDED_ */
