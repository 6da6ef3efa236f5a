
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_MODULE_H_INCLUDED_
#define _NGX_HTTP_KAFKA_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <librdkafka/rdkafka.h>


#define NGX_HTTP_KAFKA_TOPIC_MAX_LEN   249

/* not among nginx's own status codes */
#define NGX_HTTP_KAFKA_UNPROCESSABLE   422

/* what a token's grants may allow on a topic (kafka_acl_claim) */
#define NGX_HTTP_KAFKA_ACTION_PRODUCE  1
#define NGX_HTTP_KAFKA_ACTION_CONSUME  2

/* which client a kafka_*property applies to */
#define NGX_HTTP_KAFKA_ROLE_ANY        0
#define NGX_HTTP_KAFKA_ROLE_PRODUCER   1
#define NGX_HTTP_KAFKA_ROLE_CONSUMER   2

/*
 * The worker's producers: one for requests that wait for their acks
 * (a short linger.ms), one that batches fire-and-forget records
 * (kafka_produce_ack off, kafka_log); each exists only if used.
 */
#define NGX_HTTP_KAFKA_PRODUCER_ACK    0
#define NGX_HTTP_KAFKA_PRODUCER_BATCH  1
#define NGX_HTTP_KAFKA_PRODUCERS       2


typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   value;
    ngx_uint_t                  role;
} ngx_http_kafka_property_t;


typedef struct {
    ngx_str_t                   brokers;
    ngx_array_t                *properties;    /* ngx_http_kafka_property_t */
    ngx_msec_t                  shutdown_timeout;

    /*
     * Set while parsing locations: the largest kafka_produce_timeout,
     * used for librdkafka's message.timeout.ms unless a property sets it.
     */
    ngx_msec_t                  produce_timeout_max;

    /* the clients' configurations, validated at configuration time */
    rd_kafka_conf_t            *producer_conf[NGX_HTTP_KAFKA_PRODUCERS];
    rd_kafka_conf_t            *consumer_conf;

    /*
     * ngx_str_t, NUL-terminated: the topics the configuration names
     * (kafka_produce and kafka_log with a constant topic), by producer;
     * each worker asks Kafka for their metadata when it starts
     */
    ngx_array_t                *warm[NGX_HTTP_KAFKA_PRODUCERS];

    unsigned                    producer_used:1;
    unsigned                    batch_used:1;  /* fire-and-forget records */
    unsigned                    consumer_used:1;
    unsigned                    stats_used:1;  /* kafka_status, _health */
} ngx_http_kafka_main_conf_t;


typedef struct {
    ngx_flag_t                  internal_topics;
} ngx_http_kafka_loc_conf_t;


/*
 * Bounds of a directive's value, checked by its slot's post handler so
 * that the error names the directive's own line; "error" is the whole
 * message.
 */
typedef struct {
    ngx_conf_post_handler_pt    post_handler;
    ngx_uint_t                  min;
    ngx_uint_t                  max;
    const char                 *error;
} ngx_http_kafka_bounds_t;


/*
 * What a content handler accepts, checked by ngx_http_kafka_entry()
 * (ngx_http_kafka_entry.c) before the handler does anything of its own.
 */
typedef struct {
    ngx_uint_t                  methods;       /* NGX_HTTP_GET|... */
    ngx_str_t                   allow;         /* the 405's Allow header */
    const char                 *use;           /* the 405's advice */
    const char                 *directive;     /* for the error log */
    ngx_uint_t                  action;        /* NGX_HTTP_KAFKA_ACTION_* */
    unsigned                    main_only:1;   /* no subrequests */
    unsigned                    discard_body:1;
} ngx_http_kafka_entry_t;


extern ngx_module_t  ngx_http_kafka_gateway_module;
extern ngx_module_t  ngx_http_kafka_produce_module;
extern ngx_module_t  ngx_http_kafka_jwt_module;
extern ngx_module_t  ngx_http_kafka_sse_module;
extern ngx_module_t  ngx_http_kafka_contract_module;


/* ngx_http_kafka_module.c: configuration shared by all clients */
rd_kafka_conf_t *ngx_http_kafka_conf_new(ngx_conf_t *cf,
    ngx_http_kafka_main_conf_t *kmcf, ngx_uint_t role, ngx_uint_t batch);
ngx_int_t ngx_http_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
    const char *value, ngx_log_t *log);
ngx_int_t ngx_http_kafka_conf_check(ngx_conf_t *cf, rd_kafka_conf_t *conf,
    rd_kafka_type_t type);
ngx_int_t ngx_http_kafka_warm_topic(ngx_conf_t *cf, ngx_uint_t which,
    ngx_str_t *topic);

/* ngx_http_kafka_entry.c */
ngx_int_t ngx_http_kafka_entry(ngx_http_request_t *r,
    ngx_http_kafka_entry_t *entry, ngx_http_complex_value_t *cv,
    ngx_str_t *topic);

/* ngx_http_kafka_util.c */
char *ngx_http_kafka_check_bounds(ngx_conf_t *cf, void *post, void *data);
ngx_int_t ngx_http_kafka_topic_valid(ngx_str_t *topic);
ngx_int_t ngx_http_kafka_topic_allowed(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv, ngx_str_t *topic);
ngx_int_t ngx_http_kafka_topic_refuse(ngx_http_request_t *r,
    ngx_str_t *topic);
ngx_int_t ngx_http_kafka_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *content_type, u_char *data, size_t len);
ngx_int_t ngx_http_kafka_send_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t code, const char *fmt, ...);
u_char *ngx_http_kafka_json_escape(u_char *dst, u_char *src, size_t len);
size_t ngx_http_kafka_json_escape_len(u_char *src, size_t len);
ngx_uint_t ngx_http_kafka_utf8_valid(u_char *p, size_t len);
ngx_table_elt_t *ngx_http_kafka_header_add(ngx_http_request_t *r, char *key,
    ngx_str_t *value);
ngx_int_t ngx_http_kafka_json_arena_begin(ngx_pool_t *pool, size_t hint);
void ngx_http_kafka_json_arena_end(void);


#endif /* _NGX_HTTP_KAFKA_MODULE_H_INCLUDED_ */
