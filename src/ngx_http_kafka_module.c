
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_producer.h"
#include "ngx_http_kafka_consumer.h"


/* a librdkafka property that kafka_property may not set, and why */

typedef struct {
    const char                 *name;
    const char                 *reason;
} ngx_http_kafka_owned_property_t;


static void *ngx_http_kafka_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_kafka_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_kafka_postconfiguration(ngx_conf_t *cf);
static char *ngx_http_kafka_brokers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kafka_property(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_kafka_producers_conf(ngx_conf_t *cf,
    ngx_http_kafka_main_conf_t *kmcf);
static rd_kafka_conf_t *ngx_http_kafka_conf_create(
    ngx_http_kafka_main_conf_t *kmcf, ngx_uint_t role, ngx_uint_t batch,
    ngx_log_t *log);
static ngx_int_t ngx_http_kafka_conf_defaults(rd_kafka_conf_t *conf,
    ngx_http_kafka_main_conf_t *kmcf, ngx_uint_t role, ngx_uint_t batch,
    ngx_log_t *log);
static ngx_int_t ngx_http_kafka_conf_properties(rd_kafka_conf_t *conf,
    ngx_http_kafka_main_conf_t *kmcf, ngx_uint_t role, ngx_log_t *log,
    ngx_uint_t *message_timeout_set);
static ngx_int_t ngx_http_kafka_conf_message_timeout(rd_kafka_conf_t *conf,
    ngx_http_kafka_main_conf_t *kmcf, ngx_log_t *log);
static void ngx_http_kafka_conf_cleanup(void *data);
static ngx_int_t ngx_http_kafka_init_process(ngx_cycle_t *cycle);
static void ngx_http_kafka_exit_process(ngx_cycle_t *cycle);


/*
 * librdkafka properties that the module's guarantees rest on: the worker
 * cannot start without its log queue, and a request waits for the delivery
 * report of every record it produced.
 */

static ngx_http_kafka_owned_property_t  ngx_http_kafka_owned_properties[] = {
    { "log.queue",
      "librdkafka's logs reach nginx through the module's event queue" },
    { "delivery.report.only.error",
      "kafka_produce waits for the delivery report of every record" },
    { NULL, NULL }
};


static ngx_command_t  ngx_http_kafka_commands[] = {

    { ngx_string("kafka_brokers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_kafka_brokers,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kafka_property"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_kafka_property,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      (void *) NGX_HTTP_KAFKA_ROLE_ANY },

    { ngx_string("kafka_producer_property"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_kafka_property,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      (void *) NGX_HTTP_KAFKA_ROLE_PRODUCER },

    { ngx_string("kafka_consumer_property"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_kafka_property,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      (void *) NGX_HTTP_KAFKA_ROLE_CONSUMER },

    { ngx_string("kafka_shutdown_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kafka_main_conf_t, shutdown_timeout),
      NULL },

    { ngx_string("kafka_internal_topics"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_loc_conf_t, internal_topics),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kafka_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_kafka_postconfiguration,      /* postconfiguration */

    ngx_http_kafka_create_main_conf,       /* create main configuration */
    ngx_http_kafka_init_main_conf,         /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kafka_create_loc_conf,        /* create location configuration */
    ngx_http_kafka_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_kafka_gateway_module = {
    NGX_MODULE_V1,
    &ngx_http_kafka_module_ctx,            /* module context */
    ngx_http_kafka_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kafka_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kafka_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_kafka_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_main_conf_t  *kmcf;

    kmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_main_conf_t));
    if (kmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     kmcf->brokers = { 0, NULL };
     *     kmcf->properties = NULL;
     *     kmcf->produce_timeout_max = 0;
     *     kmcf->producer_conf = { NULL, NULL };
     *     kmcf->producer_used = 0;
     *     kmcf->batch_used = 0;
     *     kmcf->consumer_used = 0;
     */

    kmcf->shutdown_timeout = NGX_CONF_UNSET_MSEC;

    return kmcf;
}


static char *
ngx_http_kafka_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kafka_main_conf_t  *kmcf = conf;

    ngx_conf_init_msec_value(kmcf->shutdown_timeout, 5000);

    return NGX_CONF_OK;
}


static void *
ngx_http_kafka_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_loc_conf_t  *klcf;

    klcf = ngx_palloc(cf->pool, sizeof(ngx_http_kafka_loc_conf_t));
    if (klcf == NULL) {
        return NULL;
    }

    klcf->internal_topics = NGX_CONF_UNSET;

    return klcf;
}


static char *
ngx_http_kafka_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kafka_loc_conf_t  *prev = parent;
    ngx_http_kafka_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->internal_topics, prev->internal_topics, 0);

    return NGX_CONF_OK;
}


/*
 * Runs after every location is merged, so it knows which clients are
 * used and the largest produce timeout.
 */

static ngx_int_t
ngx_http_kafka_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_kafka_main_conf_t  *kmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_kafka_gateway_module);

    if (!kmcf->producer_used && !kmcf->consumer_used) {
        return NGX_OK;
    }

    if (kmcf->brokers.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"kafka_brokers\" must be set in the http block "
                      "when \"kafka_produce\" or \"kafka_consume_sse\" "
                      "is used");
        return NGX_ERROR;
    }

    if (kmcf->producer_used
        && ngx_http_kafka_producers_conf(cf, kmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (kmcf->consumer_used) {
        kmcf->consumer_conf = ngx_http_kafka_consumer_conf(cf, kmcf);
        if (kmcf->consumer_conf == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The producers a worker needs: the batching one if any record is
 * fire-and-forget (kafka_produce_ack off, kafka_log), the one with a
 * short linger.ms if any request waits for its acks, or if nothing else
 * produces (kafka_metadata and kafka_catalog look up metadata with
 * whichever producer runs).
 */

static ngx_int_t
ngx_http_kafka_producers_conf(ngx_conf_t *cf,
    ngx_http_kafka_main_conf_t *kmcf)
{
    ngx_uint_t        i;
    rd_kafka_conf_t  *conf;

    for (i = 0; i < NGX_HTTP_KAFKA_PRODUCERS; i++) {

        if (i == NGX_HTTP_KAFKA_PRODUCER_BATCH ? !kmcf->batch_used
            : (kmcf->produce_timeout_max == 0 && kmcf->batch_used))
        {
            continue;
        }

        conf = ngx_http_kafka_conf_new(cf, kmcf, NGX_HTTP_KAFKA_ROLE_PRODUCER,
                                       i == NGX_HTTP_KAFKA_PRODUCER_BATCH);
        if (conf == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_kafka_conf_check(cf, conf, RD_KAFKA_PRODUCER) != NGX_OK) {
            return NGX_ERROR;
        }

        kmcf->producer_conf[i] = conf;
    }

    return NGX_OK;
}


/*
 * A topic that the configuration names, for the producer "which"
 * (NGX_HTTP_KAFKA_PRODUCER_*): the worker creates its topic handle at
 * start, so that its metadata (partitions, leaders) is on the way before
 * the first request needs it.
 */

ngx_int_t
ngx_http_kafka_warm_topic(ngx_conf_t *cf, ngx_uint_t which, ngx_str_t *topic)
{
    ngx_str_t                   *t;
    ngx_uint_t                   i;
    ngx_http_kafka_main_conf_t  *kmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_kafka_gateway_module);

    if (kmcf->warm[which] == NULL) {
        kmcf->warm[which] = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (kmcf->warm[which] == NULL) {
            return NGX_ERROR;
        }
    }

    t = kmcf->warm[which]->elts;

    for (i = 0; i < kmcf->warm[which]->nelts; i++) {
        if (t[i].len == topic->len
            && ngx_strncmp(t[i].data, topic->data, topic->len) == 0)
        {
            return NGX_OK;
        }
    }

    t = ngx_array_push(kmcf->warm[which]);
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->len = topic->len;
    t->data = ngx_pnalloc(cf->pool, topic->len + 1);
    if (t->data == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(t->data, topic->data, topic->len) = '\0';

    return NGX_OK;
}


/*
 * A client's configuration, freed with the configuration cycle's pool.
 * It is built in the master and only duplicated by the workers:
 * rd_kafka_conf_t is plain memory and survives fork(), a handle does not.
 */

rd_kafka_conf_t *
ngx_http_kafka_conf_new(ngx_conf_t *cf, ngx_http_kafka_main_conf_t *kmcf,
    ngx_uint_t role, ngx_uint_t batch)
{
    rd_kafka_conf_t     *conf;
    ngx_pool_cleanup_t  *cln;

    conf = ngx_http_kafka_conf_create(kmcf, role, batch, cf->log);
    if (conf == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }

    cln->handler = ngx_http_kafka_conf_cleanup;
    cln->data = conf;

    return conf;
}


/*
 * Some settings are only checked together, when a handle is created
 * (e.g. "acks" against "enable.idempotence").  "nginx -t" exits right
 * after parsing, so creating a throwaway handle there is harmless and
 * reports such errors before a reload; a master that goes on to fork
 * never creates one.
 */

ngx_int_t
ngx_http_kafka_conf_check(ngx_conf_t *cf, rd_kafka_conf_t *conf,
    rd_kafka_type_t type)
{
    char              errstr[512];
    rd_kafka_t       *rk;
    rd_kafka_conf_t  *test;

    if (!ngx_test_config) {
        return NGX_OK;
    }

    test = rd_kafka_conf_dup(conf);
    if (test == NULL) {
        return NGX_ERROR;
    }

    rk = rd_kafka_new(type, test, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(test);
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "invalid kafka %s configuration: %s",
                      (type == RD_KAFKA_PRODUCER) ? "producer" : "consumer",
                      errstr);
        return NGX_ERROR;
    }

    /* a consumer that never joined its group has nothing to close */

    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);

    return NGX_OK;
}


static void
ngx_http_kafka_conf_cleanup(void *data)
{
    rd_kafka_conf_t  *conf = data;

    rd_kafka_conf_destroy(conf);
}


/*
 * "kafka_brokers host:port[,host:port...]": checked here so that a typo
 * fails "nginx -t" instead of leaving a worker that never connects.
 */

static char *
ngx_http_kafka_brokers(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kafka_main_conf_t  *kmcf = conf;

    u_char     *p, *last, *start, *colon;
    ngx_int_t   port;
    ngx_str_t  *value;

    if (kmcf->brokers.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = value[1].data;
    last = p + value[1].len;

    if (value[1].len == 0) {
        return "requires a broker list";
    }

    while (p <= last) {
        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        if (p == start) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty broker in \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        /* an optional "PROTOCOL://" prefix is passed through */

        for (colon = start; colon + 3 <= p; colon++) {
            if (ngx_strncmp(colon, "://", 3) == 0) {
                start = colon + 3;
                break;
            }
        }

        colon = NULL;

        if (*start == '[') {
            colon = ngx_strlchr(start, p, ']');
            if (colon == NULL || colon == start + 1) {
                goto invalid;
            }

            colon++;

            if (colon != p && *colon != ':') {
                goto invalid;
            }

        } else {
            colon = ngx_strlchr(start, p, ':');

            if (colon == start) {
                goto invalid;
            }

            if (colon == NULL) {
                colon = p;
            }

            for (/* void */; start < colon; start++) {
                if (!(*start == '.' || *start == '-' || *start == '_'
                      || (*start >= '0' && *start <= '9')
                      || (*start >= 'a' && *start <= 'z')
                      || (*start >= 'A' && *start <= 'Z')))
                {
                    goto invalid;
                }
            }
        }

        if (colon != p) {
            port = ngx_atoi(colon + 1, p - colon - 1);
            if (port < 1 || port > 65535) {
                goto invalid;
            }
        }

        p++;
    }

    kmcf->brokers = value[1];

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid broker list \"%V\", expected "
                       "\"host:port[,host:port...]\"", &value[1]);
    return NGX_CONF_ERROR;
}


/*
 * kafka_property, kafka_producer_property, kafka_consumer_property:
 * each is tried against a scratch configuration right away, so librdkafka's
 * own message about an unknown property or a bad value is reported with
 * the directive's file and line.
 */

static char *
ngx_http_kafka_property(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kafka_main_conf_t  *kmcf = conf;

    char                             errstr[512];
    ngx_str_t                       *value;
    rd_kafka_conf_t                 *scratch;
    rd_kafka_conf_res_t              res;
    ngx_http_kafka_property_t       *prop;
    ngx_http_kafka_owned_property_t *owned;

    value = cf->args->elts;

    if (kmcf->properties == NULL) {
        kmcf->properties = ngx_array_create(cf->pool, 8,
                                            sizeof(ngx_http_kafka_property_t));
        if (kmcf->properties == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_strcmp(value[1].data, "bootstrap.servers") == 0
        || ngx_strcmp(value[1].data, "metadata.broker.list") == 0)
    {
        return "cannot set the broker list, use \"kafka_brokers\"";
    }

    for (owned = ngx_http_kafka_owned_properties; owned->name; owned++) {
        if (ngx_strcmp(value[1].data, owned->name) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "kafka property \"%V\" cannot be changed: %s",
                               &value[1], owned->reason);
            return NGX_CONF_ERROR;
        }
    }

    scratch = rd_kafka_conf_new();
    if (scratch == NULL) {
        return NGX_CONF_ERROR;
    }

    res = rd_kafka_conf_set(scratch, (char *) value[1].data,
                            (char *) value[2].data, errstr, sizeof(errstr));

    rd_kafka_conf_destroy(scratch);

    if (res != RD_KAFKA_CONF_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid kafka property \"%V\": %s",
                           &value[1], errstr);
        return NGX_CONF_ERROR;
    }

    prop = ngx_array_push(kmcf->properties);
    if (prop == NULL) {
        return NGX_CONF_ERROR;
    }

    prop->name = value[1];
    prop->value = value[2];
    prop->role = (ngx_uint_t) cmd->post;

    return NGX_CONF_OK;
}


/*
 * Builds a client configuration: the module's defaults first, then the
 * broker list, then the user's properties in the order they were given,
 * so any default can be overridden.  Callbacks are set by the worker.
 */

static rd_kafka_conf_t *
ngx_http_kafka_conf_create(ngx_http_kafka_main_conf_t *kmcf, ngx_uint_t role,
    ngx_uint_t batch, ngx_log_t *log)
{
    ngx_uint_t        message_timeout_set;
    rd_kafka_conf_t  *conf;

    conf = rd_kafka_conf_new();
    if (conf == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "rd_kafka_conf_new() failed");
        return NULL;
    }

    if (ngx_http_kafka_conf_defaults(conf, kmcf, role, batch, log) != NGX_OK
        || ngx_http_kafka_conf_properties(conf, kmcf, role, log,
                                          &message_timeout_set)
           != NGX_OK)
    {
        goto failed;
    }

    if (role == NGX_HTTP_KAFKA_ROLE_PRODUCER && !batch && !message_timeout_set
        && kmcf->produce_timeout_max
        && ngx_http_kafka_conf_message_timeout(conf, kmcf, log) != NGX_OK)
    {
        goto failed;
    }

    return conf;

failed:

    rd_kafka_conf_destroy(conf);
    return NULL;
}


/* the brokers and the module's own defaults, which properties override */

static ngx_int_t
ngx_http_kafka_conf_defaults(rd_kafka_conf_t *conf,
    ngx_http_kafka_main_conf_t *kmcf, ngx_uint_t role, ngx_uint_t batch,
    ngx_log_t *log)
{
    u_char     *brokers;
    ngx_int_t   rc;

    brokers = ngx_alloc(kmcf->brokers.len + 1, log);
    if (brokers == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(brokers, kmcf->brokers.data, kmcf->brokers.len + 1);

    rc = ngx_http_kafka_conf_set(conf, "bootstrap.servers", (char *) brokers,
                                 log);

    ngx_free(brokers);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * reconnect.backoff.max.ms: librdkafka doubles its wait between
     * attempts to reach a broker up to this, 10 s by default, so after an
     * outage of a few seconds the first attempt that can succeed came up
     * to 10 s after the brokers returned, while requests kept failing
     * (bench/results/: first 2xx 0.2 s to more than 8 s after the return).
     * At 1 s it comes within a second; a broker that is down costs one
     * connection attempt a second per client and broker.
     */

    if (ngx_http_kafka_conf_set(conf, "client.id", "nginx-kafka-gateway", log)
        != NGX_OK
        || ngx_http_kafka_conf_set(conf, "log.queue", "true", log) != NGX_OK
        || ngx_http_kafka_conf_set(conf, "reconnect.backoff.max.ms", "1000",
                                   log)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* kafka_status and kafka_health read the clients' statistics */

    if (kmcf->stats_used
        && ngx_http_kafka_conf_set(conf, "statistics.interval.ms", "1000",
                                   log)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (role != NGX_HTTP_KAFKA_ROLE_PRODUCER) {
        if (ngx_http_kafka_conf_set(conf, "enable.auto.commit", "false", log)
            != NGX_OK
            || ngx_http_kafka_conf_set(conf, "enable.auto.offset.store",
                                       "false", log)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    /*
     * linger.ms: librdkafka waits 5 ms by default for a batch to fill.
     * A kafka_produce request waits for its ack, so that wait is paid
     * by each request and caps a connection at 200 requests/s; under load
     * batches fill while earlier ones are in flight anyway.  0.5 ms
     * measured best on loopback (bench/): 0 sends tiny batches at a
     * high CPU cost, 1 and more only add latency.
     *
     * Fire-and-forget records (kafka_log, kafka_produce_ack off) have
     * their own producer, where the wait is paid by nobody and
     * librdkafka's 5 ms costs far less CPU: at 0.5 to 3 ms its broker
     * threads called poll() 10,000 to 50,000 times a second at 6,000
     * to 17,000 records/s, at 5 ms a few hundred times (librdkafka 2.0.2,
     * bench/results/ capture).  Acks and idempotence stay the same.
     */

    if (ngx_http_kafka_conf_set(conf, "enable.idempotence", "true", log)
        != NGX_OK
        || ngx_http_kafka_conf_set(conf, "acks", "all", log) != NGX_OK
        || ngx_http_kafka_conf_set(conf, "linger.ms", batch ? "5" : "0.5",
                                   log)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* kafka_property and the role's own kafka_*_property, in their order */

static ngx_int_t
ngx_http_kafka_conf_properties(rd_kafka_conf_t *conf,
    ngx_http_kafka_main_conf_t *kmcf, ngx_uint_t role, ngx_log_t *log,
    ngx_uint_t *message_timeout_set)
{
    ngx_uint_t                  i;
    ngx_http_kafka_property_t  *prop;

    *message_timeout_set = 0;

    if (kmcf->properties == NULL) {
        return NGX_OK;
    }

    prop = kmcf->properties->elts;

    for (i = 0; i < kmcf->properties->nelts; i++) {
        if (prop[i].role != NGX_HTTP_KAFKA_ROLE_ANY && prop[i].role != role) {
            continue;
        }

        if (ngx_strcmp(prop[i].name.data, "message.timeout.ms") == 0
            || ngx_strcmp(prop[i].name.data, "delivery.timeout.ms") == 0)
        {
            *message_timeout_set = 1;
        }

        if (ngx_http_kafka_conf_set(conf, (char *) prop[i].name.data,
                                    (char *) prop[i].value.data, log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * librdkafka gives up on a message after message.timeout.ms and reports
 * whether it may have been written.  Unless set explicitly, it ends 1.5 s
 * before the longest kafka_produce_timeout (half of it below 3 s), so that
 * report, not the request's own timer, decides the answer: librdkafka
 * looks for timed-out messages once a second, so its report may come up
 * to a second after message.timeout.ms.
 */

static ngx_int_t
ngx_http_kafka_conf_message_timeout(rd_kafka_conf_t *conf,
    ngx_http_kafka_main_conf_t *kmcf, ngx_log_t *log)
{
    u_char      buf[NGX_INT_T_LEN + 1];
    ngx_msec_t  timeout;

    timeout = kmcf->produce_timeout_max;

    /*
     * No location waits for acks (only kafka_produce_ack off and
     * kafka_log): librdkafka's own default, bounded on exit by
     * kafka_shutdown_timeout.
     */

    if (timeout == 0) {
        return NGX_OK;
    }

    timeout = (timeout > 3000) ? timeout - 1500 : timeout / 2;

    if (timeout == 0) {
        timeout = 1;
    }

    *ngx_sprintf(buf, "%M", timeout) = '\0';

    return ngx_http_kafka_conf_set(conf, "message.timeout.ms", (char *) buf,
                                   log);
}


ngx_int_t
ngx_http_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
    const char *value, ngx_log_t *log)
{
    char  errstr[512];

    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr))
        != RD_KAFKA_CONF_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "kafka property \"%s\" = \"%s\": %s",
                      name, value, errstr);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The worker's clients: the producer, then the consumer (whose SSE side
 * starts in ngx_http_kafka_sse_module's init_process, after this one).
 * They stop in the same order: the producer's reports drain first.
 */

static ngx_int_t
ngx_http_kafka_init_process(ngx_cycle_t *cycle)
{
    ngx_http_kafka_main_conf_t  *kmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    kmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kafka_gateway_module);
    if (kmcf == NULL) {
        return NGX_OK;
    }

    if (kmcf->producer_used
        && ngx_http_kafka_producer_init(cycle, kmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (kmcf->consumer_conf
        && ngx_http_kafka_consumer_init(cycle, kmcf->consumer_conf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_kafka_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_kafka_main_conf_t  *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kafka_gateway_module);
    if (kmcf == NULL) {
        return;
    }

    ngx_http_kafka_producer_exit(cycle, kmcf);
    ngx_http_kafka_consumer_exit(cycle, kmcf->shutdown_timeout);
}
