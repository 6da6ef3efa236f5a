
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_producer.h"
#include "ngx_http_kafka_consumer.h"
#include "ngx_http_kafka_produce.h"
#include "ngx_http_kafka_status.h"


/*
 * kafka_status and kafka_health
 *
 * Figures summed over all workers live in one shared memory zone,
 * "kafka_status", which nginx keeps across reloads as long as its size
 * (kafka_status_topics) does not change.  Layout: the zone's header, an
 * index of topic names (open addressing, 2 entries a topic at least),
 * then the topic slots: "kafka_status_topics" of them in the order topics
 * were first seen, then "_other" (every topic beyond the cap) and the
 * slot of requests refused before their topic was known (topic="").
 *
 * The request path takes no lock: a topic is found through the index,
 * and its figures are atomic adds.  A new name claims an index entry with
 * a compare-and-swap (0 -> CLAIMING), takes the next slot with an atomic
 * add, writes the name, and publishes the entry (slot number + 1); who
 * meets CLAIMING waits for the publication.  Entries are never removed,
 * so a name is found at the first entry of its probe sequence that holds
 * it, and two workers claiming the same name meet at the same entry.
 *
 * librdkafka's statistics (a JSON document per client every
 * statistics.interval.ms, served from each worker's event loop) are
 * written under the zone's mutex: once a second per client and worker.
 * Gauges that each worker reports for itself (broker state, round-trip
 * time, producer queue, SSE lag) are kept per worker, with the time of the
 * report; a scrape combines the reports that are not stale, so an exited
 * worker's figures expire.  Error counters of the clients are added as
 * differences from the worker's previous report, so that they never go
 * backwards when a reload starts new clients.
 */


#define NGX_HTTP_KAFKA_STATUS_STATUSES     500      /* HTTP 100 to 599 */
#define NGX_HTTP_KAFKA_STATUS_BUCKETS      15       /* the last is +Inf */
#define NGX_HTTP_KAFKA_STATUS_WORKERS      32
#define NGX_HTTP_KAFKA_STATUS_BROKERS      32
#define NGX_HTTP_KAFKA_STATUS_BROKER_LEN   128
#define NGX_HTTP_KAFKA_STATUS_CACHE        4
#define NGX_HTTP_KAFKA_STATUS_CLAIMING     ((ngx_atomic_uint_t) -1)
#define NGX_HTTP_KAFKA_STATUS_SPINS        10000

/* the clients, by the names they log with (ngx_http_kafka_producer.c) */
#define NGX_HTTP_KAFKA_STATUS_PRODUCER     0
#define NGX_HTTP_KAFKA_STATUS_CONSUMER     1
#define NGX_HTTP_KAFKA_STATUS_BATCH        2
#define NGX_HTTP_KAFKA_STATUS_CLIENTS      3

#define NGX_HTTP_KAFKA_STATUS_JWT_MISSING  0
#define NGX_HTTP_KAFKA_STATUS_JWT_INVALID  1
#define NGX_HTTP_KAFKA_STATUS_JWT_EXPIRED  2
#define NGX_HTTP_KAFKA_STATUS_JWT_EARLY    3
#define NGX_HTTP_KAFKA_STATUS_JWT_CLAIMS   4
#define NGX_HTTP_KAFKA_STATUS_JWT_DENIED   5
#define NGX_HTTP_KAFKA_STATUS_JWT_N        6

#define NGX_HTTP_KAFKA_STATUS_TOPICS       100
#define NGX_HTTP_KAFKA_STATUS_INTERVAL     1000     /* ms, if not set */


/* a gauge that each worker reports for itself */
typedef struct {
    ngx_atomic_t                      value;
    ngx_atomic_t                      time;        /* ngx_time(), 0: none */
} ngx_http_kafka_status_report_t;


typedef struct {
    ngx_atomic_t                      ready;
    uint32_t                          hash;
    size_t                            len;
    u_char                            name[NGX_HTTP_KAFKA_TOPIC_MAX_LEN];

    ngx_atomic_t                      requests[NGX_HTTP_KAFKA_STATUS_STATUSES];
    ngx_atomic_t                      acked;
    ngx_atomic_t                      failed;
    ngx_atomic_t                      bytes;
    ngx_atomic_t                      ack[NGX_HTTP_KAFKA_STATUS_BUCKETS];
    ngx_atomic_t                      ack_ms;      /* the sum */

    ngx_atomic_t                      streams;
    ngx_atomic_t                      events;
    ngx_atomic_t                      resumes;
    ngx_atomic_t                      closed[NGX_HTTP_KAFKA_STATUS_CLOSED_N];
    ngx_http_kafka_status_report_t    lag[NGX_HTTP_KAFKA_STATUS_WORKERS];

    ngx_atomic_t                      invalid[NGX_HTTP_KAFKA_STATUS_INVALID_N];
    ngx_atomic_t                      log_dropped;
} ngx_http_kafka_status_topic_t;


/* a broker as one worker's client saw it in its last statistics */
typedef struct {
    time_t                            time;
    ngx_uint_t                        up;
    uint64_t                          rtt;         /* microseconds */
} ngx_http_kafka_status_seen_t;


typedef struct {
    ngx_uint_t                        client;
    size_t                            len;
    u_char                            name[NGX_HTTP_KAFKA_STATUS_BROKER_LEN];
    uint64_t                          tx_errors;
    uint64_t                          rx_errors;
    ngx_http_kafka_status_seen_t      seen[NGX_HTTP_KAFKA_STATUS_WORKERS];
} ngx_http_kafka_status_broker_t;


typedef struct {
    time_t                            time;
    uint64_t                          messages;
    uint64_t                          bytes;
} ngx_http_kafka_status_queue_t;


typedef struct {
    ngx_uint_t                        cap;
    ngx_uint_t                        mask;        /* index entries - 1 */
    ngx_atomic_t                      ntopics;
    ngx_atomic_t                     *index;
    ngx_http_kafka_status_topic_t    *topics;

    ngx_atomic_t                      jwt[NGX_HTTP_KAFKA_STATUS_JWT_N];

    /* under the mutex */
    ngx_uint_t                        nbrokers;
    ngx_http_kafka_status_broker_t    brokers[NGX_HTTP_KAFKA_STATUS_BROKERS];
    ngx_http_kafka_status_queue_t     queue[NGX_HTTP_KAFKA_STATUS_WORKERS]
                                           [NGX_HTTP_KAFKA_PRODUCERS];
} ngx_http_kafka_status_shctx_t;


typedef struct {
    ngx_int_t                         topics;      /* kafka_status_topics */
    ngx_shm_zone_t                   *zone;
    unsigned                          status:1;    /* kafka_status used */
} ngx_http_kafka_status_main_conf_t;


/* one client of this worker, from its last statistics */
typedef struct {
    time_t                            time;        /* 0: none yet */
    ngx_uint_t                        up;          /* brokers up */
    u_char                            fatal[128];
    size_t                            fatal_len;
    int64_t                           tx[NGX_HTTP_KAFKA_STATUS_BROKERS];
    int64_t                           rx[NGX_HTTP_KAFKA_STATUS_BROKERS];
} ngx_http_kafka_status_client_t;


/* a worker's last topic look-ups */
typedef struct {
    ngx_http_kafka_status_topic_t    *topic;
    size_t                            len;
    u_char                            name[NGX_HTTP_KAFKA_TOPIC_MAX_LEN];
} ngx_http_kafka_status_cached_t;


typedef struct {
    const char                       *name;
    ngx_str_t                         value;
} ngx_http_kafka_status_label_t;


/* the exposition, text or JSON, into a chain of request pool buffers */
typedef struct {
    ngx_http_request_t               *request;
    ngx_chain_t                      *out;
    ngx_chain_t                     **last;
    ngx_buf_t                        *buf;
    ngx_uint_t                        json;
    ngx_uint_t                        families;
    ngx_uint_t                        samples;
    time_t                            fresh;       /* reports since then */
    ngx_uint_t                        failed;
} ngx_http_kafka_status_writer_t;


static ngx_http_kafka_status_topic_t *ngx_http_kafka_status_topic(
    ngx_str_t *name);
static ngx_http_kafka_status_topic_t *ngx_http_kafka_status_find(
    ngx_http_kafka_status_shctx_t *sh, ngx_str_t *name);
static ngx_uint_t ngx_http_kafka_status_client(const char *client);
static ngx_http_kafka_status_broker_t *ngx_http_kafka_status_broker(
    ngx_http_kafka_status_shctx_t *sh, ngx_uint_t client, const char *name);
static void ngx_http_kafka_status_stats_broker(
    ngx_http_kafka_status_shctx_t *sh, ngx_uint_t client, const char *name,
    json_t *broker, ngx_uint_t up);
static ngx_int_t ngx_http_kafka_status_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_kafka_status_wants_json(ngx_http_request_t *r);
static void ngx_http_kafka_status_write(ngx_http_kafka_status_writer_t *w,
    ngx_http_kafka_status_shctx_t *sh);
static void ngx_http_kafka_status_write_topics(
    ngx_http_kafka_status_writer_t *w, ngx_http_kafka_status_shctx_t *sh);
static void ngx_http_kafka_status_write_sse(ngx_http_kafka_status_writer_t *w,
    ngx_http_kafka_status_shctx_t *sh);
static void ngx_http_kafka_status_write_contracts(
    ngx_http_kafka_status_writer_t *w, ngx_http_kafka_status_shctx_t *sh);
static void ngx_http_kafka_status_write_capture(
    ngx_http_kafka_status_writer_t *w, ngx_http_kafka_status_shctx_t *sh);
static void ngx_http_kafka_status_write_clients(
    ngx_http_kafka_status_writer_t *w, ngx_http_kafka_status_shctx_t *sh);
static ngx_uint_t ngx_http_kafka_status_shown(ngx_http_kafka_status_shctx_t *sh,
    ngx_uint_t i, ngx_http_kafka_status_topic_t **topic);
static void ngx_http_kafka_status_family(ngx_http_kafka_status_writer_t *w,
    const char *name, const char *type, const char *help);
static void ngx_http_kafka_status_sample(ngx_http_kafka_status_writer_t *w,
    const char *name, const char *suffix,
    ngx_http_kafka_status_label_t *labels, ngx_uint_t n, u_char *value,
    u_char *value_end);
static void ngx_http_kafka_status_uint(ngx_http_kafka_status_writer_t *w,
    const char *name, ngx_http_kafka_status_label_t *labels, ngx_uint_t n,
    uint64_t value);
static u_char *ngx_http_kafka_status_reserve(
    ngx_http_kafka_status_writer_t *w, size_t len);
static size_t ngx_http_kafka_status_escape_len(ngx_uint_t json,
    ngx_str_t *s);
static u_char *ngx_http_kafka_status_escape(ngx_uint_t json, u_char *p,
    ngx_str_t *s);
static ngx_int_t ngx_http_kafka_status_health_handler(ngx_http_request_t *r);
static const char *ngx_http_kafka_status_health_check(ngx_uint_t client,
    ngx_uint_t running);
static ngx_int_t ngx_http_kafka_status_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_status_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void *ngx_http_kafka_status_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_status_init_main_conf(ngx_conf_t *cf,
    void *conf);
static ngx_int_t ngx_http_kafka_status_postconfiguration(ngx_conf_t *cf);
static char *ngx_http_kafka_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_kafka_status_init_process(ngx_cycle_t *cycle);


static ngx_http_kafka_bounds_t  ngx_http_kafka_status_topics_bounds = {
    ngx_http_kafka_check_bounds, 1, 100000,
    "\"kafka_status_topics\" must be between 1 and 100000"
};


static ngx_command_t  ngx_http_kafka_status_commands[] = {

    { ngx_string("kafka_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kafka_status,
      0,
      0,
      ngx_http_kafka_status_handler },

    { ngx_string("kafka_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kafka_status,
      0,
      0,
      ngx_http_kafka_status_health_handler },

    { ngx_string("kafka_status_topics"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kafka_status_main_conf_t, topics),
      &ngx_http_kafka_status_topics_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kafka_status_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_kafka_status_postconfiguration, /* postconfiguration */

    ngx_http_kafka_status_create_main_conf, /* create main configuration */
    ngx_http_kafka_status_init_main_conf,  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_kafka_status_module = {
    NGX_MODULE_V1,
    &ngx_http_kafka_status_module_ctx,     /* module context */
    ngx_http_kafka_status_commands,        /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kafka_status_init_process,    /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_kafka_entry_t  ngx_http_kafka_status_entry = {
    NGX_HTTP_GET|NGX_HTTP_HEAD,
    ngx_string("GET, HEAD"),
    "use GET or HEAD",
    "kafka_status",
    0,
    0,
    1
};


/* le bounds of nginx_kafka_produce_ack_seconds, in microseconds */
static uint64_t  ngx_http_kafka_status_bounds[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};

static ngx_str_t  ngx_http_kafka_status_les[] = {
    ngx_string("0.0005"), ngx_string("0.001"), ngx_string("0.0025"),
    ngx_string("0.005"), ngx_string("0.01"), ngx_string("0.025"),
    ngx_string("0.05"), ngx_string("0.1"), ngx_string("0.25"),
    ngx_string("0.5"), ngx_string("1"), ngx_string("2.5"), ngx_string("5"),
    ngx_string("10"), ngx_string("+Inf")
};

static ngx_str_t  ngx_http_kafka_status_closed[] = {
    ngx_string("client"), ngx_string("slow"), ngx_string("reload"),
    ngx_string("error")
};

static ngx_str_t  ngx_http_kafka_status_modes[] = {
    ngx_string("reject"), ngx_string("annotate")
};

static ngx_str_t  ngx_http_kafka_status_jwt_reasons[] = {
    ngx_string("missing"), ngx_string("invalid"), ngx_string("expired"),
    ngx_string("not_yet_valid"), ngx_string("claims"),
    ngx_string("forbidden")
};

static ngx_str_t  ngx_http_kafka_status_clients[] = {
    ngx_string("producer"), ngx_string("consumer"),
    ngx_string("batch_producer")
};

static ngx_str_t  ngx_http_kafka_status_other = ngx_string("_other");
static ngx_str_t  ngx_http_kafka_status_text_type =
    ngx_string("text/plain; version=0.0.4");
static ngx_str_t  ngx_http_kafka_status_json_type =
    ngx_string("application/json");


/* per worker: set by init_process */
static ngx_http_kafka_status_shctx_t   *ngx_http_kafka_status_sh;
static ngx_slab_pool_t                 *ngx_http_kafka_status_pool;
static ngx_http_kafka_status_client_t
    ngx_http_kafka_status_seen[NGX_HTTP_KAFKA_STATUS_CLIENTS];
static ngx_http_kafka_status_cached_t
    ngx_http_kafka_status_cache[NGX_HTTP_KAFKA_STATUS_CACHE];
static ngx_uint_t                       ngx_http_kafka_status_cache_next;
static time_t                           ngx_http_kafka_status_stale = 3;


/* the hooks */

void
ngx_http_kafka_status_produce_failed(ngx_str_t *topic, ngx_uint_t n)
{
    ngx_http_kafka_status_topic_t  *t;

    if (n == 0 || (t = ngx_http_kafka_status_topic(topic)) == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&t->failed, n);
}


void
ngx_http_kafka_status_delivered(const rd_kafka_message_t *msg)
{
    ngx_str_t                       name;
    ngx_http_kafka_status_topic_t  *t;

    if (ngx_http_kafka_status_sh == NULL) {
        return;
    }

    name.data = (u_char *) rd_kafka_topic_name(msg->rkt);
    name.len = ngx_strlen(name.data);

    t = ngx_http_kafka_status_topic(&name);
    if (t == NULL) {
        return;
    }

    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        (void) ngx_atomic_fetch_add(&t->failed, 1);
        return;
    }

    (void) ngx_atomic_fetch_add(&t->acked, 1);
    (void) ngx_atomic_fetch_add(&t->bytes, msg->len + msg->key_len);
}


void
ngx_http_kafka_status_produce_ack(ngx_str_t *topic, ngx_msec_t ms)
{
    ngx_uint_t                      i;
    ngx_http_kafka_status_topic_t  *t;

    t = ngx_http_kafka_status_topic(topic);
    if (t == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_KAFKA_STATUS_BUCKETS - 1; i++) {
        if ((uint64_t) ms * 1000 <= ngx_http_kafka_status_bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&t->ack[i], 1);
    (void) ngx_atomic_fetch_add(&t->ack_ms, ms);
}


void
ngx_http_kafka_status_sse_open(ngx_str_t *topic, ngx_uint_t resumed)
{
    ngx_http_kafka_status_topic_t  *t;

    t = ngx_http_kafka_status_topic(topic);
    if (t == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&t->streams, 1);

    if (resumed) {
        (void) ngx_atomic_fetch_add(&t->resumes, 1);
    }
}


void
ngx_http_kafka_status_sse_event(ngx_str_t *topic)
{
    ngx_http_kafka_status_topic_t  *t;

    t = ngx_http_kafka_status_topic(topic);
    if (t == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&t->events, 1);
}


void
ngx_http_kafka_status_sse_closed(ngx_str_t *topic, ngx_uint_t reason)
{
    ngx_http_kafka_status_topic_t  *t;

    t = ngx_http_kafka_status_topic(topic);
    if (t == NULL || reason >= NGX_HTTP_KAFKA_STATUS_CLOSED_N) {
        return;
    }

    (void) ngx_atomic_fetch_add(&t->streams, (ngx_atomic_int_t) -1);
    (void) ngx_atomic_fetch_add(&t->closed[reason], 1);
}


void
ngx_http_kafka_status_sse_lag(ngx_str_t *topic, int64_t lag)
{
    ngx_uint_t                      w;
    ngx_http_kafka_status_topic_t  *t;

    t = ngx_http_kafka_status_topic(topic);
    if (t == NULL) {
        return;
    }

    w = ngx_worker % NGX_HTTP_KAFKA_STATUS_WORKERS;

    t->lag[w].value = (ngx_atomic_uint_t) (lag > 0 ? lag : 0);
    ngx_memory_barrier();
    t->lag[w].time = (ngx_atomic_uint_t) ngx_time();
}


/*
 * Records, not requests: an envelope of three records with two invalid
 * ones adds 2, whether the request was refused (reject) or its records
 * were produced with the validation header (annotate).
 */

void
ngx_http_kafka_status_validation_failed(ngx_str_t *topic, ngx_uint_t mode,
    ngx_uint_t n)
{
    ngx_http_kafka_status_topic_t  *t;

    if (n == 0 || mode >= NGX_HTTP_KAFKA_STATUS_INVALID_N
        || (t = ngx_http_kafka_status_topic(topic)) == NULL)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&t->invalid[mode], n);
}


/*
 * A kafka_log topic, known from the configuration, gets its slot when a
 * worker starts (this module's init_process has run: the module list in
 * "config" puts it before the log module), so that its drop counter is
 * shown from 0 and a first drop is an increase Prometheus can see.
 */

void
ngx_http_kafka_status_log_topic(ngx_str_t *topic)
{
    (void) ngx_http_kafka_status_topic(topic);
}


/* every record kafka_log gives up: the queue bound, refused, undelivered */

void
ngx_http_kafka_status_log_dropped(ngx_str_t *topic)
{
    ngx_http_kafka_status_topic_t  *t;

    t = ngx_http_kafka_status_topic(topic);
    if (t == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&t->log_dropped, 1);
}


/*
 * reason: what ngx_http_kafka_jwt_verify() says (a constant phrase), or
 * NULL for a request without a token; t/status.t checks each class.
 */

void
ngx_http_kafka_status_jwt_rejected(const char *reason)
{
    ngx_uint_t  n;

    if (ngx_http_kafka_status_sh == NULL) {
        return;
    }

    if (reason == NULL) {
        n = NGX_HTTP_KAFKA_STATUS_JWT_MISSING;

    } else if (ngx_strstr(reason, "has expired")) {
        n = NGX_HTTP_KAFKA_STATUS_JWT_EXPIRED;

    } else if (ngx_strstr(reason, "not valid yet")) {
        n = NGX_HTTP_KAFKA_STATUS_JWT_EARLY;

    } else if (ngx_strstr(reason, "claim") || ngx_strstr(reason, "expiry")
               || ngx_strstr(reason, "issuer")
               || ngx_strstr(reason, "audience"))
    {
        n = NGX_HTTP_KAFKA_STATUS_JWT_CLAIMS;

    } else {
        n = NGX_HTTP_KAFKA_STATUS_JWT_INVALID;
    }

    (void) ngx_atomic_fetch_add(&ngx_http_kafka_status_sh->jwt[n], 1);
}


void
ngx_http_kafka_status_acl_rejected(void)
{
    ngx_http_kafka_status_shctx_t  *sh;

    sh = ngx_http_kafka_status_sh;

    if (sh) {
        (void) ngx_atomic_fetch_add(&sh->jwt[NGX_HTTP_KAFKA_STATUS_JWT_DENIED],
                                    1);
    }
}


/*
 * A client's statistics (librdkafka's STATISTICS.md): "brokers" is an
 * object of brokers by name, each with "nodeid" (-1 for a bootstrap
 * address not yet known as a node), "source" ("logical" for the group
 * coordinator's second name of a broker), "state" ("UP" when connected),
 * "rtt"
 * (microseconds over the last interval; "cnt" 0 when nothing was
 * measured), "txerrs" and "rxerrs" (since the client started); the
 * producer's "msg_cnt" and "msg_size" are what its queues hold.
 */

void
ngx_http_kafka_status_stats(const char *client, const char *json)
{
    ngx_uint_t                      c, up, is_up;
    json_t                         *root, *brokers, *b, *v;
    const char                     *name, *state, *source;
    ngx_slab_pool_t                *shpool;
    ngx_http_kafka_status_queue_t  *q;
    ngx_http_kafka_status_shctx_t  *sh;

    c = ngx_http_kafka_status_client(client);

    root = json_loads(json, 0, NULL);
    if (root == NULL) {
        return;
    }

    sh = ngx_http_kafka_status_sh;
    shpool = ngx_http_kafka_status_pool;

    up = 0;
    brokers = json_object_get(root, "brokers");

    if (shpool) {
        ngx_shmtx_lock(&shpool->mutex);
    }

    json_object_foreach(brokers, name, b) {
        v = json_object_get(b, "nodeid");
        source = json_string_value(json_object_get(b, "source"));

        if (!json_is_integer(v) || json_integer_value(v) < 0
            || (source && ngx_strcmp(source, "logical") == 0))
        {
            continue;
        }

        state = json_string_value(json_object_get(b, "state"));
        is_up = (state && ngx_strcmp(state, "UP") == 0);
        up += is_up;

        if (sh) {
            ngx_http_kafka_status_stats_broker(sh, c, name, b, is_up);
        }
    }

    if (sh && c != NGX_HTTP_KAFKA_STATUS_CONSUMER) {
        q = &sh->queue[ngx_worker % NGX_HTTP_KAFKA_STATUS_WORKERS]
                      [c == NGX_HTTP_KAFKA_STATUS_BATCH];

        v = json_object_get(root, "msg_cnt");
        q->messages = json_is_integer(v) ? json_integer_value(v) : 0;
        v = json_object_get(root, "msg_size");
        q->bytes = json_is_integer(v) ? json_integer_value(v) : 0;
        q->time = ngx_time();
    }

    if (shpool) {
        ngx_shmtx_unlock(&shpool->mutex);
    }

    json_decref(root);

    ngx_http_kafka_status_seen[c].up = up;
    ngx_http_kafka_status_seen[c].time = ngx_time();
}


void
ngx_http_kafka_status_fatal(const char *client, const char *reason)
{
    ngx_http_kafka_status_client_t  *c;

    c = &ngx_http_kafka_status_seen[ngx_http_kafka_status_client(client)];

    c->fatal_len = ngx_min(ngx_strlen(reason), sizeof(c->fatal));
    ngx_memcpy(c->fatal, reason, c->fatal_len);

    if (c->fatal_len == 0) {
        c->fatal_len = ngx_cpymem(c->fatal, "fatal error", 11) - c->fatal;
    }
}


/* NGX_HTTP_KAFKA_STATUS_* of a client's name */

static ngx_uint_t
ngx_http_kafka_status_client(const char *client)
{
    ngx_uint_t  c;

    for (c = 0; c < NGX_HTTP_KAFKA_STATUS_CLIENTS; c++) {
        if (ngx_strcmp(client, ngx_http_kafka_status_clients[c].data) == 0) {
            return c;
        }
    }

    return NGX_HTTP_KAFKA_STATUS_PRODUCER;
}


/* a broker's figures from this worker's client; under the mutex */

static void
ngx_http_kafka_status_stats_broker(ngx_http_kafka_status_shctx_t *sh,
    ngx_uint_t client, const char *name, json_t *broker, ngx_uint_t up)
{
    int64_t                          tx, rx;
    ngx_uint_t                       w, i;
    json_t                          *rtt, *v;
    ngx_http_kafka_status_broker_t  *b;
    ngx_http_kafka_status_client_t  *c;

    b = ngx_http_kafka_status_broker(sh, client, name);
    if (b == NULL) {
        return;
    }

    w = ngx_worker % NGX_HTTP_KAFKA_STATUS_WORKERS;
    i = b - sh->brokers;
    c = &ngx_http_kafka_status_seen[client];

    b->seen[w].time = ngx_time();
    b->seen[w].up = up;

    rtt = json_object_get(broker, "rtt");
    v = json_object_get(rtt, "cnt");

    if (json_is_integer(v) && json_integer_value(v) > 0) {
        v = json_object_get(rtt, "avg");
        b->seen[w].rtt = json_is_integer(v) ? json_integer_value(v) : 0;
    }

    /* since the client started: added as the difference to the last */

    v = json_object_get(broker, "txerrs");
    tx = json_is_integer(v) ? json_integer_value(v) : 0;
    v = json_object_get(broker, "rxerrs");
    rx = json_is_integer(v) ? json_integer_value(v) : 0;

    if (tx > c->tx[i]) {
        b->tx_errors += tx - c->tx[i];
    }

    if (rx > c->rx[i]) {
        b->rx_errors += rx - c->rx[i];
    }

    c->tx[i] = tx;
    c->rx[i] = rx;
}


static ngx_http_kafka_status_broker_t *
ngx_http_kafka_status_broker(ngx_http_kafka_status_shctx_t *sh,
    ngx_uint_t client, const char *name)
{
    size_t                           len;
    ngx_uint_t                       i;
    ngx_http_kafka_status_broker_t  *b;

    len = ngx_min(ngx_strlen(name), NGX_HTTP_KAFKA_STATUS_BROKER_LEN);

    for (i = 0; i < sh->nbrokers; i++) {
        b = &sh->brokers[i];

        if (b->client == client && b->len == len
            && ngx_memcmp(b->name, name, len) == 0)
        {
            return b;
        }
    }

    if (sh->nbrokers == NGX_HTTP_KAFKA_STATUS_BROKERS) {
        return NULL;
    }

    b = &sh->brokers[sh->nbrokers++];

    b->client = client;
    b->len = len;
    ngx_memcpy(b->name, name, len);

    return b;
}


/* a topic's slot; NULL without kafka_status */

static ngx_http_kafka_status_topic_t *
ngx_http_kafka_status_topic(ngx_str_t *name)
{
    ngx_uint_t                       i;
    ngx_http_kafka_status_cached_t  *c;
    ngx_http_kafka_status_topic_t   *t;

    if (ngx_http_kafka_status_sh == NULL) {
        return NULL;
    }

    if (name->len == 0) {
        /* no topic (a refusal before it was known): its own slot, not
         * cached; an empty ngx_str_t's data may be NULL */
        return ngx_http_kafka_status_find(ngx_http_kafka_status_sh, name);
    }

    for (i = 0; i < NGX_HTTP_KAFKA_STATUS_CACHE; i++) {
        c = &ngx_http_kafka_status_cache[i];

        if (c->topic && c->len == name->len
            && ngx_memcmp(c->name, name->data, name->len) == 0)
        {
            return c->topic;
        }
    }

    t = ngx_http_kafka_status_find(ngx_http_kafka_status_sh, name);

    if (name->len <= NGX_HTTP_KAFKA_TOPIC_MAX_LEN) {
        c = &ngx_http_kafka_status_cache[ngx_http_kafka_status_cache_next];
        ngx_http_kafka_status_cache_next = (ngx_http_kafka_status_cache_next
                                            + 1)
                                           % NGX_HTTP_KAFKA_STATUS_CACHE;
        c->topic = t;
        c->len = name->len;
        ngx_memcpy(c->name, name->data, name->len);
    }

    return t;
}


/* the lock-free look-up and claim, see "kafka_status and kafka_health" */

static ngx_http_kafka_status_topic_t *
ngx_http_kafka_status_find(ngx_http_kafka_status_shctx_t *sh,
    ngx_str_t *name)
{
    uint32_t                        hash;
    ngx_uint_t                      k, probes, spins;
    ngx_atomic_uint_t               v, n;
    ngx_http_kafka_status_topic_t  *t, *other;

    other = &sh->topics[sh->cap];

    if (name->len == 0) {
        t = &sh->topics[sh->cap + 1];
        goto special;
    }

    if (name->len > NGX_HTTP_KAFKA_TOPIC_MAX_LEN
        || (name->len == ngx_http_kafka_status_other.len
            && ngx_memcmp(name->data, ngx_http_kafka_status_other.data,
                          name->len)
               == 0))
    {
        t = other;
        goto special;
    }

    hash = ngx_crc32_short(name->data, name->len);
    k = hash & sh->mask;

    for (probes = 0; probes <= sh->mask; /* void */) {

        for (spins = 0; (v = sh->index[k]) == NGX_HTTP_KAFKA_STATUS_CLAIMING;
             spins++)
        {
            /* another worker is writing the name: a few instructions */

            if (spins == NGX_HTTP_KAFKA_STATUS_SPINS) {
                t = other;
                goto special;
            }

            ngx_sched_yield();
        }

        if (v == 0) {
            if (sh->ntopics >= sh->cap) {
                t = other;
                goto special;
            }

            if (!ngx_atomic_cmp_set(&sh->index[k], 0,
                                    NGX_HTTP_KAFKA_STATUS_CLAIMING))
            {
                /* someone else took the entry: look at it again */
                continue;
            }

            n = ngx_atomic_fetch_add(&sh->ntopics, 1);

            if (n >= sh->cap) {
                sh->index[k] = 0;
                t = other;
                goto special;
            }

            t = &sh->topics[n];
            t->hash = hash;
            t->len = name->len;
            ngx_memcpy(t->name, name->data, name->len);

            ngx_memory_barrier();

            t->ready = 1;
            sh->index[k] = n + 1;

            return t;
        }

        t = &sh->topics[v - 1];

        if (t->hash == hash && t->len == name->len
            && ngx_memcmp(t->name, name->data, name->len) == 0)
        {
            return t;
        }

        k = (k + 1) & sh->mask;
        probes++;
    }

    t = other;

special:

    if (!t->ready) {
        t->ready = 1;
    }

    return t;
}


static ngx_int_t
ngx_http_kafka_status_handler(ngx_http_request_t *r)
{
    off_t                            len;
    ngx_int_t                        rc;
    ngx_chain_t                     *cl;
    ngx_http_kafka_status_writer_t   w;

    rc = ngx_http_kafka_entry(r, &ngx_http_kafka_status_entry, NULL, NULL);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_http_kafka_status_sh == NULL) {
        return ngx_http_kafka_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         NGX_HTTP_KAFKA_REST_CLIENT_UNAVAILABLE,
                                         "the status zone is not available");
    }

    ngx_memzero(&w, sizeof(ngx_http_kafka_status_writer_t));

    w.request = r;
    w.last = &w.out;
    w.json = ngx_http_kafka_status_wants_json(r);
    w.fresh = ngx_time() - ngx_http_kafka_status_stale;

    ngx_http_kafka_status_write(&w, ngx_http_kafka_status_sh);

    if (w.failed || w.out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = 0;

    for (cl = w.out; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
        cl->buf->memory = 1;
        cl->buf->temporary = 0;
    }

    w.buf->last_buf = (r == r->main) ? 1 : 0;
    w.buf->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type = w.json ? ngx_http_kafka_status_json_type
                                         : ngx_http_kafka_status_text_type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, w.out);
}


/* "?format=json", or application/json in Accept */

static ngx_uint_t
ngx_http_kafka_status_wants_json(ngx_http_request_t *r)
{
    ngx_str_t         value;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (ngx_http_arg(r, (u_char *) "format", 6, &value) == NGX_OK) {
        return value.len == 4 && ngx_strncasecmp(value.data,
                                                 (u_char *) "json", 4) == 0;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == 6
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept", 6) == 0
            && ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "application/json", 16 - 1)
               != NULL)
        {
            return 1;
        }
    }

    return 0;
}


static void
ngx_http_kafka_status_write(ngx_http_kafka_status_writer_t *w,
    ngx_http_kafka_status_shctx_t *sh)
{
    u_char                         *p;
    ngx_uint_t                      i;
    ngx_http_kafka_status_label_t   l[2];

    if (w->json) {
        p = ngx_http_kafka_status_reserve(w, 64);
        if (p == NULL) {
            return;
        }

        w->buf->last = ngx_cpymem(p, "{\"families\":[",
                                  sizeof("{\"families\":[") - 1);
    }

    ngx_http_kafka_status_family(w, "nginx_kafka_info", "gauge",
                                 "The gateway's and librdkafka's versions.");

    l[0].name = "version";
    ngx_str_set(&l[0].value, NGX_HTTP_KAFKA_VERSION);
    l[1].name = "librdkafka";
    l[1].value.data = (u_char *) rd_kafka_version_str();
    l[1].value.len = ngx_strlen(l[1].value.data);

    ngx_http_kafka_status_uint(w, "nginx_kafka_info", l, 2, 1);

    ngx_http_kafka_status_write_topics(w, sh);
    ngx_http_kafka_status_write_sse(w, sh);
    ngx_http_kafka_status_write_contracts(w, sh);
    ngx_http_kafka_status_write_capture(w, sh);

    ngx_http_kafka_status_family(w, "nginx_kafka_jwt_rejected_total",
                                 "counter",
                                 "Requests refused by kafka_jwt or "
                                 "kafka_acl_claim, by reason.");

    for (i = 0; i < NGX_HTTP_KAFKA_STATUS_JWT_N; i++) {
        l[0].name = "reason";
        l[0].value = ngx_http_kafka_status_jwt_reasons[i];
        ngx_http_kafka_status_uint(w, "nginx_kafka_jwt_rejected_total", l, 1,
                                   sh->jwt[i]);
    }

    ngx_http_kafka_status_write_clients(w, sh);

    if (w->json) {
        p = ngx_http_kafka_status_reserve(w, 16);
        if (p == NULL) {
            return;
        }

        w->buf->last = ngx_cpymem(p, "]}]}\n", 5);
    }
}


/* the produce figures of every topic */

static void
ngx_http_kafka_status_write_topics(ngx_http_kafka_status_writer_t *w,
    ngx_http_kafka_status_shctx_t *sh)
{
    u_char                          buf[NGX_ATOMIC_T_LEN + 8], *p;
    uint64_t                        count, ms;
    ngx_uint_t                      i, s, n;
    ngx_http_kafka_status_label_t   l[2];
    ngx_http_kafka_status_topic_t  *t;

    l[0].name = "topic";

    ngx_http_kafka_status_family(w, "nginx_kafka_produce_requests_total",
                                 "counter",
                                 "kafka_produce requests by topic and HTTP "
                                 "status.");

    for (i = 0; ngx_http_kafka_status_shown(sh, i, &t); i++) {
        if (t == NULL) {
            continue;
        }

        l[0].value.data = t->name;
        l[0].value.len = t->len;
        l[1].name = "status";

        for (s = 0; s < NGX_HTTP_KAFKA_STATUS_STATUSES; s++) {
            if (t->requests[s] == 0) {
                continue;
            }

            p = ngx_sprintf(buf, "%ui", s + 100);
            l[1].value.data = buf;
            l[1].value.len = p - buf;

            ngx_http_kafka_status_uint(w,
                                       "nginx_kafka_produce_requests_total",
                                       l, 2, t->requests[s]);
        }
    }

    ngx_http_kafka_status_family(w, "nginx_kafka_produce_records_total",
                                 "counter",
                                 "Records by topic and outcome: acked by "
                                 "Kafka, or failed (refused, not sent, or "
                                 "reported failed).");

    for (i = 0; ngx_http_kafka_status_shown(sh, i, &t); i++) {
        if (t == NULL || t->len == 0) {
            continue;
        }

        l[0].value.data = t->name;
        l[0].value.len = t->len;
        l[1].name = "result";

        ngx_str_set(&l[1].value, "acked");
        ngx_http_kafka_status_uint(w, "nginx_kafka_produce_records_total",
                                   l, 2, t->acked);

        ngx_str_set(&l[1].value, "failed");
        ngx_http_kafka_status_uint(w, "nginx_kafka_produce_records_total",
                                   l, 2, t->failed);
    }

    ngx_http_kafka_status_family(w, "nginx_kafka_produce_bytes_total",
                                 "counter",
                                 "Key and value bytes of acked records.");

    for (i = 0; ngx_http_kafka_status_shown(sh, i, &t); i++) {
        if (t == NULL || t->len == 0) {
            continue;
        }

        l[0].value.data = t->name;
        l[0].value.len = t->len;

        ngx_http_kafka_status_uint(w, "nginx_kafka_produce_bytes_total",
                                   l, 1, t->bytes);
    }

    ngx_http_kafka_status_family(w, "nginx_kafka_produce_ack_seconds",
                                 "histogram",
                                 "From the start of a kafka_produce request "
                                 "to its last acknowledgement.");

    for (i = 0; ngx_http_kafka_status_shown(sh, i, &t); i++) {
        if (t == NULL || t->len == 0) {
            continue;
        }

        l[0].value.data = t->name;
        l[0].value.len = t->len;
        l[1].name = "le";

        /* a consistent view: the count is the last cumulative bucket */

        count = 0;

        for (n = 0; n < NGX_HTTP_KAFKA_STATUS_BUCKETS; n++) {
            count += t->ack[n];
            l[1].value = ngx_http_kafka_status_les[n];
            ngx_http_kafka_status_uint(w, "nginx_kafka_produce_ack_seconds"
                                       "_bucket", l, 2, count);
        }

        ms = t->ack_ms;
        p = ngx_sprintf(buf, "%uL.%03uL", ms / 1000, ms % 1000);

        ngx_http_kafka_status_sample(w, "nginx_kafka_produce_ack_seconds",
                                     "_sum", l, 1, buf, p);
        ngx_http_kafka_status_uint(w, "nginx_kafka_produce_ack_seconds"
                                   "_count", l, 1, count);
    }
}


static void
ngx_http_kafka_status_write_sse(ngx_http_kafka_status_writer_t *w,
    ngx_http_kafka_status_shctx_t *sh)
{
    uint64_t                        lag;
    ngx_uint_t                      i, n;
    ngx_atomic_int_t                streams;
    ngx_http_kafka_status_label_t   l[2];
    ngx_http_kafka_status_topic_t  *t;

    l[0].name = "topic";

    ngx_http_kafka_status_family(w, "nginx_kafka_sse_streams", "gauge",
                                 "kafka_consume_sse streams open now.");

    for (i = 0; ngx_http_kafka_status_shown(sh, i, &t); i++) {
        if (t == NULL || t->len == 0) {
            continue;
        }

        l[0].value.data = t->name;
        l[0].value.len = t->len;

        streams = (ngx_atomic_int_t) t->streams;

        ngx_http_kafka_status_uint(w, "nginx_kafka_sse_streams", l, 1,
                                   streams > 0 ? streams : 0);
    }

    ngx_http_kafka_status_family(w, "nginx_kafka_sse_events_total",
                                 "counter",
                                 "Events written to SSE streams.");

    for (i = 0; ngx_http_kafka_status_shown(sh, i, &t); i++) {
        if (t == NULL || t->len == 0) {
            continue;
        }

        l[0].value.data = t->name;
        l[0].value.len = t->len;

        ngx_http_kafka_status_uint(w, "nginx_kafka_sse_events_total", l, 1,
                                   t->events);
    }

    ngx_http_kafka_status_family(w, "nginx_kafka_sse_streams_closed_total",
                                 "counter",
                                 "SSE streams ended, by reason.");

    for (i = 0; ngx_http_kafka_status_shown(sh, i, &t); i++) {
        if (t == NULL || t->len == 0) {
            continue;
        }

        l[0].value.data = t->name;
        l[0].value.len = t->len;
        l[1].name = "reason";

        for (n = 0; n < NGX_HTTP_KAFKA_STATUS_CLOSED_N; n++) {
            l[1].value = ngx_http_kafka_status_closed[n];
            ngx_http_kafka_status_uint(w,
                                       "nginx_kafka_sse_streams_closed_total",
                                       l, 2, t->closed[n]);
        }
    }

    ngx_http_kafka_status_family(w, "nginx_kafka_sse_resumes_total",
                                 "counter",
                                 "SSE streams started from a resume id.");

    for (i = 0; ngx_http_kafka_status_shown(sh, i, &t); i++) {
        if (t == NULL || t->len == 0) {
            continue;
        }

        l[0].value.data = t->name;
        l[0].value.len = t->len;

        ngx_http_kafka_status_uint(w, "nginx_kafka_sse_resumes_total", l, 1,
                                   t->resumes);
    }

    ngx_http_kafka_status_family(w, "nginx_kafka_sse_lag_records", "gauge",
                                 "Records between the high watermark and "
                                 "the position of the SSE reader furthest "
                                 "behind, max over partitions.");

    for (i = 0; ngx_http_kafka_status_shown(sh, i, &t); i++) {
        if (t == NULL || t->len == 0) {
            continue;
        }

        l[0].value.data = t->name;
        l[0].value.len = t->len;

        lag = 0;

        for (n = 0; n < NGX_HTTP_KAFKA_STATUS_WORKERS; n++) {
            if ((time_t) t->lag[n].time >= w->fresh
                && t->lag[n].value > lag)
            {
                lag = t->lag[n].value;
            }
        }

        ngx_http_kafka_status_uint(w, "nginx_kafka_sse_lag_records", l, 1,
                                   lag);
    }
}


static void
ngx_http_kafka_status_write_contracts(ngx_http_kafka_status_writer_t *w,
    ngx_http_kafka_status_shctx_t *sh)
{
    ngx_uint_t                      i, n;
    ngx_http_kafka_status_label_t   l[2];
    ngx_http_kafka_status_topic_t  *t;

    l[0].name = "topic";
    l[1].name = "mode";

    ngx_http_kafka_status_family(w, "nginx_kafka_validation_failures_total",
                                 "counter",
                                 "Records that did not match their "
                                 "contract, by the validation mode.");

    for (i = 0; ngx_http_kafka_status_shown(sh, i, &t); i++) {
        if (t == NULL || t->len == 0) {
            continue;
        }

        l[0].value.data = t->name;
        l[0].value.len = t->len;

        for (n = 0; n < NGX_HTTP_KAFKA_STATUS_INVALID_N; n++) {
            l[1].value = ngx_http_kafka_status_modes[n];
            ngx_http_kafka_status_uint(w,
                                       "nginx_kafka_validation_failures_total",
                                       l, 2, t->invalid[n]);
        }
    }
}


static void
ngx_http_kafka_status_write_capture(ngx_http_kafka_status_writer_t *w,
    ngx_http_kafka_status_shctx_t *sh)
{
    ngx_uint_t                      i;
    ngx_http_kafka_status_label_t   l[1];
    ngx_http_kafka_status_topic_t  *t;

    l[0].name = "topic";

    ngx_http_kafka_status_family(w, "nginx_kafka_log_dropped_total",
                                 "counter",
                                 "kafka_log records dropped: the queue "
                                 "bound, refused or not delivered.");

    for (i = 0; ngx_http_kafka_status_shown(sh, i, &t); i++) {
        if (t == NULL || t->len == 0) {
            continue;
        }

        l[0].value.data = t->name;
        l[0].value.len = t->len;

        ngx_http_kafka_status_uint(w, "nginx_kafka_log_dropped_total", l, 1,
                                   t->log_dropped);
    }
}


/* librdkafka's statistics; the figures are read under the mutex */

static void
ngx_http_kafka_status_write_clients(ngx_http_kafka_status_writer_t *w,
    ngx_http_kafka_status_shctx_t *sh)
{
    u_char                           buf[NGX_INT64_LEN + 8], *p;
    uint64_t                         rtt, messages, bytes;
    ngx_uint_t                       i, n, up, seen;
    ngx_http_kafka_status_label_t    l[2];
    ngx_http_kafka_status_broker_t  *b;

    ngx_shmtx_lock(&ngx_http_kafka_status_pool->mutex);

    l[0].name = "client";
    l[1].name = "broker";

    ngx_http_kafka_status_family(w, "nginx_kafka_broker_up", "gauge",
                                 "1 if a worker's client is connected to "
                                 "the broker.");

    for (i = 0; i < sh->nbrokers; i++) {
        b = &sh->brokers[i];

        up = 0;
        seen = 0;

        for (n = 0; n < NGX_HTTP_KAFKA_STATUS_WORKERS; n++) {
            if (b->seen[n].time >= w->fresh) {
                seen = 1;
                up = up || b->seen[n].up;
            }
        }

        if (!seen) {
            continue;
        }

        l[0].value = ngx_http_kafka_status_clients[b->client];
        l[1].value.data = b->name;
        l[1].value.len = b->len;

        ngx_http_kafka_status_uint(w, "nginx_kafka_broker_up", l, 2, up);
    }

    ngx_http_kafka_status_family(w, "nginx_kafka_broker_rtt_seconds",
                                 "gauge",
                                 "Average round-trip time to the broker "
                                 "over the last statistics interval, max "
                                 "over workers.");

    for (i = 0; i < sh->nbrokers; i++) {
        b = &sh->brokers[i];

        rtt = 0;
        seen = 0;

        for (n = 0; n < NGX_HTTP_KAFKA_STATUS_WORKERS; n++) {
            if (b->seen[n].time >= w->fresh) {
                seen = 1;
                rtt = ngx_max(rtt, b->seen[n].rtt);
            }
        }

        if (!seen) {
            continue;
        }

        l[0].value = ngx_http_kafka_status_clients[b->client];
        l[1].value.data = b->name;
        l[1].value.len = b->len;

        p = ngx_sprintf(buf, "%uL.%06uL", rtt / 1000000, rtt % 1000000);

        ngx_http_kafka_status_sample(w, "nginx_kafka_broker_rtt_seconds", "",
                                     l, 2, buf, p);
    }

    ngx_http_kafka_status_family(w, "nginx_kafka_broker_tx_errors_total",
                                 "counter",
                                 "librdkafka's transmission errors to the "
                                 "broker.");

    for (i = 0; i < sh->nbrokers; i++) {
        b = &sh->brokers[i];

        l[0].value = ngx_http_kafka_status_clients[b->client];
        l[1].value.data = b->name;
        l[1].value.len = b->len;

        ngx_http_kafka_status_uint(w, "nginx_kafka_broker_tx_errors_total",
                                   l, 2, b->tx_errors);
    }

    ngx_http_kafka_status_family(w, "nginx_kafka_broker_rx_errors_total",
                                 "counter",
                                 "librdkafka's receive errors from the "
                                 "broker.");

    for (i = 0; i < sh->nbrokers; i++) {
        b = &sh->brokers[i];

        l[0].value = ngx_http_kafka_status_clients[b->client];
        l[1].value.data = b->name;
        l[1].value.len = b->len;

        ngx_http_kafka_status_uint(w, "nginx_kafka_broker_rx_errors_total",
                                   l, 2, b->rx_errors);
    }

    messages = 0;
    bytes = 0;

    for (n = 0; n < NGX_HTTP_KAFKA_STATUS_WORKERS; n++) {
        for (i = 0; i < NGX_HTTP_KAFKA_PRODUCERS; i++) {
            if (sh->queue[n][i].time >= w->fresh) {
                messages += sh->queue[n][i].messages;
                bytes += sh->queue[n][i].bytes;
            }
        }
    }

    ngx_shmtx_unlock(&ngx_http_kafka_status_pool->mutex);

    ngx_http_kafka_status_family(w, "nginx_kafka_producer_queue_messages",
                                 "gauge",
                                 "Messages in the producers' queues, not "
                                 "yet acknowledged.");
    ngx_http_kafka_status_uint(w, "nginx_kafka_producer_queue_messages",
                               NULL, 0, messages);

    ngx_http_kafka_status_family(w, "nginx_kafka_producer_queue_bytes",
                                 "gauge",
                                 "Bytes of the messages in the producers' "
                                 "queues.");
    ngx_http_kafka_status_uint(w, "nginx_kafka_producer_queue_bytes",
                               NULL, 0, bytes);
}


/*
 * The i-th slot to show: the topics in the order they came, "_other",
 * then the requests without a topic (only in the requests family);
 * *topic is NULL for a slot not in use.  Returns 0 past the end.
 */

static ngx_uint_t
ngx_http_kafka_status_shown(ngx_http_kafka_status_shctx_t *sh, ngx_uint_t i,
    ngx_http_kafka_status_topic_t **topic)
{
    ngx_uint_t                      n;
    ngx_http_kafka_status_topic_t  *t;

    n = ngx_min(sh->ntopics, sh->cap);

    if (i < n) {
        t = &sh->topics[i];

    } else if (i < n + 2) {
        t = &sh->topics[sh->cap + (i - n)];

    } else {
        return 0;
    }

    *topic = t->ready ? t : NULL;

    return 1;
}


static void
ngx_http_kafka_status_family(ngx_http_kafka_status_writer_t *w,
    const char *name, const char *type, const char *help)
{
    u_char  *p;
    size_t   len;

    len = 2 * ngx_strlen(name) + ngx_strlen(type) + ngx_strlen(help) + 64;

    p = ngx_http_kafka_status_reserve(w, len);
    if (p == NULL) {
        return;
    }

    if (w->json) {
        p = ngx_sprintf(p, "%s{\"name\":\"%s\",\"type\":\"%s\","
                        "\"help\":\"%s\",\"samples\":[",
                        w->families ? "]}," : "", name, type, help);

    } else {
        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                        name, help, name, type);
    }

    w->buf->last = p;
    w->families++;
    w->samples = 0;
}


static void
ngx_http_kafka_status_sample(ngx_http_kafka_status_writer_t *w,
    const char *name, const char *suffix,
    ngx_http_kafka_status_label_t *labels, ngx_uint_t n, u_char *value,
    u_char *value_end)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    len = ngx_strlen(name) + ngx_strlen(suffix) + (value_end - value) + 64;

    for (i = 0; i < n; i++) {
        len += ngx_strlen(labels[i].name) + 8
               + ngx_http_kafka_status_escape_len(w->json, &labels[i].value);
    }

    p = ngx_http_kafka_status_reserve(w, len);
    if (p == NULL) {
        return;
    }

    if (w->json) {
        p = ngx_sprintf(p, "%s{\"name\":\"%s%s\",\"labels\":{",
                        w->samples ? "," : "", name, suffix);

        for (i = 0; i < n; i++) {
            p = ngx_sprintf(p, "%s\"%s\":\"", i ? "," : "", labels[i].name);
            p = ngx_http_kafka_status_escape(1, p, &labels[i].value);
            *p++ = '"';
        }

        p = ngx_cpymem(p, "},\"value\":", sizeof("},\"value\":") - 1);
        p = ngx_cpymem(p, value, value_end - value);
        *p++ = '}';

    } else {
        p = ngx_sprintf(p, "%s%s", name, suffix);

        for (i = 0; i < n; i++) {
            p = ngx_sprintf(p, "%c%s=\"", i ? ',' : '{', labels[i].name);
            p = ngx_http_kafka_status_escape(0, p, &labels[i].value);
            *p++ = '"';
        }

        if (n) {
            *p++ = '}';
        }

        *p++ = ' ';
        p = ngx_cpymem(p, value, value_end - value);
        *p++ = '\n';
    }

    w->buf->last = p;
    w->samples++;
}


static void
ngx_http_kafka_status_uint(ngx_http_kafka_status_writer_t *w,
    const char *name, ngx_http_kafka_status_label_t *labels, ngx_uint_t n,
    uint64_t value)
{
    u_char  buf[NGX_INT64_LEN], *p;

    p = ngx_sprintf(buf, "%uL", value);

    ngx_http_kafka_status_sample(w, name, "", labels, n, buf, p);
}


static u_char *
ngx_http_kafka_status_reserve(ngx_http_kafka_status_writer_t *w, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (w->failed) {
        return NULL;
    }

    if (w->buf && (size_t) (w->buf->end - w->buf->last) >= len) {
        return w->buf->last;
    }

    b = ngx_create_temp_buf(w->request->pool, ngx_max(len, 16384));
    cl = ngx_alloc_chain_link(w->request->pool);

    if (b == NULL || cl == NULL) {
        w->failed = 1;
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    *w->last = cl;
    w->last = &cl->next;
    w->buf = b;

    return b->last;
}


/* label values: Prometheus escapes \, " and newline; JSON its own way */

static size_t
ngx_http_kafka_status_escape_len(ngx_uint_t json, ngx_str_t *s)
{
    size_t      len;
    ngx_uint_t  i;

    if (json) {
        return ngx_http_kafka_json_escape_len(s->data, s->len);
    }

    len = s->len;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] == '\\' || s->data[i] == '"' || s->data[i] == '\n') {
            len++;
        }
    }

    return len;
}


static u_char *
ngx_http_kafka_status_escape(ngx_uint_t json, u_char *p, ngx_str_t *s)
{
    ngx_uint_t  i;

    if (json) {
        return ngx_http_kafka_json_escape(p, s->data, s->len);
    }

    for (i = 0; i < s->len; i++) {
        switch (s->data[i]) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = s->data[i];
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = s->data[i];
        }
    }

    return p;
}


/*
 * kafka_health: ready when each of this worker's producers (whichever of
 * the two the configuration needs) and its consumer (if a location
 * streams) are connected to at least one broker by their last
 * statistics, and had no fatal error.  "producer_brokers_up" is the
 * producer for acknowledged requests, or the batching one if only it runs.
 */

static ngx_int_t
ngx_http_kafka_status_health_handler(ngx_http_request_t *r)
{
    u_char                      *p, *body;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_str_t                    reason;
    ngx_uint_t                   producer;
    const char                  *why;
    ngx_http_kafka_main_conf_t  *kmcf;

    rc = ngx_http_kafka_entry(r, &ngx_http_kafka_status_entry, NULL, NULL);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kafka_gateway_module);

    why = NULL;

    if (kmcf->producer_conf[NGX_HTTP_KAFKA_PRODUCER_ACK]) {
        why = ngx_http_kafka_status_health_check(
                  NGX_HTTP_KAFKA_STATUS_PRODUCER,
                  ngx_http_kafka_producer_running(
                                               NGX_HTTP_KAFKA_PRODUCER_ACK));
        producer = NGX_HTTP_KAFKA_STATUS_PRODUCER;

    } else {
        producer = NGX_HTTP_KAFKA_STATUS_BATCH;
    }

    if (why == NULL && kmcf->producer_conf[NGX_HTTP_KAFKA_PRODUCER_BATCH]) {
        why = ngx_http_kafka_status_health_check(
                  NGX_HTTP_KAFKA_STATUS_BATCH,
                  ngx_http_kafka_producer_running(
                                             NGX_HTTP_KAFKA_PRODUCER_BATCH));
    }

    if (why == NULL && kmcf->consumer_used) {
        why = ngx_http_kafka_status_health_check(
                  NGX_HTTP_KAFKA_STATUS_CONSUMER,
                  ngx_http_kafka_consumer_running());
    }

    if (why == NULL) {
        len = sizeof("{\"status\":\"ok\",\"producer_brokers_up\":,"
                     "\"consumer_brokers_up\":}") + 2 * NGX_INT_T_LEN;

        body = ngx_pnalloc(r->pool, len);
        if (body == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_sprintf(body, "{\"status\":\"ok\",\"producer_brokers_up\":%ui,"
                        "\"consumer_brokers_up\":%ui}",
                        ngx_http_kafka_status_seen[producer].up,
                        ngx_http_kafka_status_seen[
                            NGX_HTTP_KAFKA_STATUS_CONSUMER].up);

        return ngx_http_kafka_send_json(r, NGX_HTTP_OK, NULL, body, p - body);
    }

    reason.data = (u_char *) why;
    reason.len = ngx_strlen(why);

    len = sizeof("{\"status\":\"unavailable\",\"reason\":\"\"}")
          + ngx_http_kafka_json_escape_len(reason.data, reason.len);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"status\":\"unavailable\",\"reason\":\"",
                   sizeof("{\"status\":\"unavailable\",\"reason\":\"") - 1);
    p = ngx_http_kafka_json_escape(p, reason.data, reason.len);
    p = ngx_cpymem(p, "\"}", 2);

    return ngx_http_kafka_send_json(r, NGX_HTTP_SERVICE_UNAVAILABLE, NULL,
                                    body, p - body);
}


static const char *
ngx_http_kafka_status_health_check(ngx_uint_t client, ngx_uint_t running)
{
    static u_char                    reason[256];
    const char                      *why;
    ngx_http_kafka_status_client_t  *c;

    static const char               *names[] = {
        "producer", "consumer", "batch producer"
    };

    c = &ngx_http_kafka_status_seen[client];

    if (!running) {
        why = " is not running";

    } else if (c->fatal_len) {
        *ngx_snprintf(reason, sizeof(reason) - 1, "%V: fatal error: %*s",
                      &ngx_http_kafka_status_clients[client], c->fatal_len,
                      c->fatal) = '\0';
        return (const char *) reason;

    } else if (c->time == 0) {
        why = " has not reported statistics yet";

    } else if (c->time < ngx_time() - ngx_http_kafka_status_stale) {
        why = "'s statistics are stale";

    } else if (c->up == 0) {
        why = " is connected to no broker";

    } else {
        return NULL;
    }

    *ngx_snprintf(reason, sizeof(reason) - 1, "the %s%s", names[client],
                  why) = '\0';

    return (const char *) reason;
}


/* kafka_produce requests, counted once their status is final */

static ngx_int_t
ngx_http_kafka_status_log_handler(ngx_http_request_t *r)
{
    ngx_str_t                           topic;
    ngx_uint_t                          status;
    ngx_http_kafka_status_topic_t      *t;
    ngx_http_kafka_produce_ctx_t       *ctx;
    ngx_http_kafka_produce_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_produce_module);

    if (plcf->topic == NULL || ngx_http_kafka_status_sh == NULL) {
        return NGX_OK;
    }

    /* as $status */

    status = r->err_status ? r->err_status : r->headers_out.status;

    if (status < 100 || status >= 100 + NGX_HTTP_KAFKA_STATUS_STATUSES) {
        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_kafka_produce_module);

    if (ctx) {
        topic = ctx->topic;

    } else {
        ngx_str_null(&topic);
    }

    t = ngx_http_kafka_status_topic(&topic);
    if (t == NULL) {
        return NGX_OK;
    }

    (void) ngx_atomic_fetch_add(&t->requests[status - 100], 1);

    return NGX_OK;
}


static ngx_int_t
ngx_http_kafka_status_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_kafka_status_shctx_t  *octx = data;

    size_t                          nindex;
    ngx_uint_t                      cap;
    ngx_slab_pool_t                *shpool;
    ngx_http_kafka_status_shctx_t  *sh;

    if (octx) {
        /* a reload with the same kafka_status_topics: the figures go on */
        shm_zone->data = octx;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    cap = (ngx_uint_t) (uintptr_t) shm_zone->data;

    for (nindex = 2; nindex < 2 * cap; nindex <<= 1) { /* void */ }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_kafka_status_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->index = ngx_slab_calloc(shpool, nindex * sizeof(ngx_atomic_t));
    sh->topics = ngx_slab_calloc(shpool, (cap + 2)
                                 * sizeof(ngx_http_kafka_status_topic_t));

    if (sh->index == NULL || sh->topics == NULL) {
        return NGX_ERROR;
    }

    sh->cap = cap;
    sh->mask = nindex - 1;

    ngx_memcpy(sh->topics[cap].name, ngx_http_kafka_status_other.data,
               ngx_http_kafka_status_other.len);
    sh->topics[cap].len = ngx_http_kafka_status_other.len;

    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


static void *
ngx_http_kafka_status_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_status_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_status_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     smcf->zone = NULL;
     *     smcf->status = 0;
     */

    smcf->topics = NGX_CONF_UNSET;

    return smcf;
}


static char *
ngx_http_kafka_status_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kafka_status_main_conf_t *smcf = conf;

    ngx_conf_init_value(smcf->topics, NGX_HTTP_KAFKA_STATUS_TOPICS);

    return NGX_CONF_OK;
}


/*
 * With kafka_status anywhere: the zone, sized for kafka_status_topics,
 * and the log phase handler that counts produce requests.
 */

static ngx_int_t
ngx_http_kafka_status_postconfiguration(ngx_conf_t *cf)
{
    size_t                              size;
    ngx_str_t                           name;
    ngx_http_handler_pt                *h;
    ngx_http_core_main_conf_t          *cmcf;
    ngx_http_kafka_status_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_kafka_status_module);

    if (!smcf->status) {
        return NGX_OK;
    }

    size = sizeof(ngx_http_kafka_status_shctx_t)
           + 4 * smcf->topics * sizeof(ngx_atomic_t)
           + (smcf->topics + 2) * sizeof(ngx_http_kafka_status_topic_t);

    /* the slab allocator's own pages and rounding */

    size += size / 8 + 16 * ngx_pagesize;

    ngx_str_set(&name, "kafka_status");

    smcf->zone = ngx_shared_memory_add(cf, &name, size,
                                       &ngx_http_kafka_status_module);
    if (smcf->zone == NULL) {
        return NGX_ERROR;
    }

    smcf->zone->init = ngx_http_kafka_status_init_zone;
    smcf->zone->data = (void *) (uintptr_t) smcf->topics;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kafka_status_log_handler;

    return NGX_OK;
}


/* kafka_status and kafka_health: cmd->post is the content handler */

static char *
ngx_http_kafka_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_kafka_main_conf_t         *kmcf;
    ngx_http_kafka_status_main_conf_t  *smcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate";
    }

    clcf->handler = (ngx_http_handler_pt) cmd->post;

    if (clcf->handler == ngx_http_kafka_status_handler) {
        smcf = ngx_http_conf_get_module_main_conf(cf,
                                                 ngx_http_kafka_status_module);
        smcf->status = 1;
    }

    kmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_kafka_gateway_module);
    kmcf->stats_used = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kafka_status_init_process(ngx_cycle_t *cycle)
{
    char                                buf[NGX_INT_T_LEN + 1];
    size_t                              size;
    ngx_int_t                           ms;
    rd_kafka_conf_t                    *conf;
    ngx_http_kafka_main_conf_t         *kmcf;
    ngx_http_kafka_status_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kafka_status_module);
    kmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kafka_gateway_module);

    if (smcf == NULL || kmcf == NULL) {
        return NGX_OK;
    }

    if (smcf->zone) {
        ngx_http_kafka_status_sh = smcf->zone->data;
        ngx_http_kafka_status_pool =
                                  (ngx_slab_pool_t *) smcf->zone->shm.addr;
    }

    /* a report older than three statistics intervals is stale */

    conf = kmcf->producer_conf[NGX_HTTP_KAFKA_PRODUCER_ACK];

    if (conf == NULL) {
        conf = kmcf->producer_conf[NGX_HTTP_KAFKA_PRODUCER_BATCH];
    }

    if (conf == NULL) {
        conf = kmcf->consumer_conf;
    }
    size = sizeof(buf);

    if (conf
        && rd_kafka_conf_get(conf, "statistics.interval.ms", buf, &size)
           == RD_KAFKA_CONF_OK)
    {
        ms = ngx_atoi((u_char *) buf, ngx_strlen(buf));

        if (ms > 0) {
            ngx_http_kafka_status_stale = ngx_max(3, (3 * ms + 999) / 1000);
        }
    }

    return NGX_OK;
}
