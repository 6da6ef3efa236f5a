
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

    /* the producer configuration, validated at configuration time */
    rd_kafka_conf_t            *producer_conf;

    unsigned                    producer_used:1;
    unsigned                    consumer_used:1;
} ngx_http_kafka_main_conf_t;


typedef struct {
    ngx_flag_t                  internal_topics;
} ngx_http_kafka_loc_conf_t;


/*
 * The "msg_opaque" of every produced message is a heap object that starts
 * with this header.  The client core calls the handler once for each
 * delivery report, from the worker's event loop; the handler owns the
 * object from then on.  NULL opaques (fire-and-forget) are only counted.
 */
typedef struct ngx_http_kafka_dr_s  ngx_http_kafka_dr_t;

typedef void (*ngx_http_kafka_dr_handler_pt)(ngx_http_kafka_dr_t *dr,
    const rd_kafka_message_t *msg);

struct ngx_http_kafka_dr_s {
    ngx_http_kafka_dr_handler_pt  handler;
};


/*
 * The bridge turns a librdkafka queue into an nginx read event: librdkafka
 * writes a byte to a non-blocking pipe when the queue becomes non-empty
 * (rd_kafka_queue_io_event_enable), the read end is an nginx connection,
 * and its handler drains the pipe and calls "serve".  "serve" handles at
 * most a batch of events and returns NGX_AGAIN if the queue may hold more;
 * the bridge then posts itself again, so one busy queue cannot starve the
 * rest of the worker.
 */
typedef ngx_int_t (*ngx_http_kafka_bridge_serve_pt)(void *data);

typedef struct {
    ngx_connection_t               *connection;
    ngx_fd_t                        write_fd;
    rd_kafka_queue_t               *queue;
    ngx_http_kafka_bridge_serve_pt  serve;
    void                           *data;
} ngx_http_kafka_bridge_t;


/*
 * librdkafka reports the same trouble (a broker down, a failed connect)
 * again on every retry.  Each distinct error is logged once until the
 * client is seen working again, then the recovery is logged.
 */
#define NGX_HTTP_KAFKA_HEALTH_SEEN  8

typedef struct {
    rd_kafka_resp_err_t         seen[NGX_HTTP_KAFKA_HEALTH_SEEN];
    ngx_uint_t                  nseen;
} ngx_http_kafka_health_t;


/* per-worker statistics of the producer client */
typedef struct {
    ngx_atomic_uint_t           produced;
    ngx_atomic_uint_t           delivered;
    ngx_atomic_uint_t           failed;
    ngx_atomic_uint_t           orphaned;      /* reports for gone requests */
} ngx_http_kafka_producer_stats_t;


extern ngx_module_t  ngx_http_kafka_gateway_module;
extern ngx_module_t  ngx_http_kafka_produce_module;
extern ngx_module_t  ngx_http_kafka_jwt_module;
extern ngx_module_t  ngx_http_kafka_sse_module;


/* ngx_http_kafka_client.c: the per-worker producer and the bridge */
ngx_int_t ngx_http_kafka_producer_init(ngx_cycle_t *cycle,
    ngx_http_kafka_main_conf_t *kmcf);
void ngx_http_kafka_producer_exit(ngx_cycle_t *cycle,
    ngx_http_kafka_main_conf_t *kmcf);
rd_kafka_t *ngx_http_kafka_producer(void);
ngx_http_kafka_producer_stats_t *ngx_http_kafka_producer_stats(void);
ngx_uint_t ngx_http_kafka_producer_unhealthy(void);
size_t ngx_http_kafka_producer_message_max(void);

ngx_int_t ngx_http_kafka_bridge_open(ngx_http_kafka_bridge_t *bridge,
    rd_kafka_queue_t *queue, ngx_http_kafka_bridge_serve_pt serve,
    void *data, ngx_log_t *log);
void ngx_http_kafka_bridge_close(ngx_http_kafka_bridge_t *bridge);
void ngx_http_kafka_log_event(ngx_log_t *log, rd_kafka_event_t *ev,
    ngx_http_kafka_health_t *health, const char *client);
void ngx_http_kafka_health_error(ngx_log_t *log,
    ngx_http_kafka_health_t *health, const char *client,
    rd_kafka_resp_err_t err, const char *reason);
void ngx_http_kafka_health_ok(ngx_log_t *log, ngx_http_kafka_health_t *health,
    const char *client);

/* ngx_http_kafka_module.c: configuration shared by all clients */
rd_kafka_conf_t *ngx_http_kafka_conf_create(ngx_http_kafka_main_conf_t *kmcf,
    ngx_uint_t role, ngx_log_t *log);

/*
 * ngx_http_kafka_jwt.c: per-topic authorization from the verified token.
 * Content handlers call it once the topic is evaluated and valid, before
 * reading the body, taking a reference or sending anything; any result
 * but NGX_OK is returned from the content handler as it is (the request
 * has been answered, or is to be answered with that status).
 */
ngx_int_t ngx_http_kafka_jwt_authorize(ngx_http_request_t *r,
    ngx_str_t *topic, ngx_uint_t action);

/* ngx_http_kafka_util.c */
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


#endif /* _NGX_HTTP_KAFKA_MODULE_H_INCLUDED_ */
