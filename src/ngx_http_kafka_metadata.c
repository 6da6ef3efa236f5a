
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_producer.h"
#include "ngx_http_kafka_produce.h"
#include "ngx_http_kafka_rest.h"
#include "ngx_http_kafka_acl.h"
#include "ngx_http_kafka_metadata.h"


/*
 * kafka_metadata: REST Proxy v2's topic metadata
 *
 *   kafka_metadata topics;              GET /topics
 *   kafka_metadata topic TOPIC;         GET /topics/{name}
 *   kafka_metadata partitions TOPIC;    GET /topics/{name}/partitions
 *   kafka_metadata partition TOPIC PARTITION;
 *                                       GET /topics/{name}/partitions/{id}
 *
 * The topics a caller sees are those its token's grants allow it to
 * produce to or consume from (when kafka_acl_claim is set), internal
 * topics left out unless kafka_internal_topics is on.  A named topic goes
 * through ngx_http_kafka_entry() like every other handler's: invalid or
 * internal names are 400, and a topic the caller may neither produce to
 * nor consume from is 403, decided before the metadata is looked at, so
 * the answer is the same whether the topic exists or not.
 *
 * A location may hold both kafka_metadata and kafka_produce, as REST
 * Proxy serves GET and POST on one URL: GET and HEAD read the metadata,
 * POST, PUT and DELETE go to the produce handler, and a 405's Allow lists
 * both sets.
 *
 * The worker's metadata (see ngx_http_kafka_metadata.h for the contract):
 *
 *   md, time    the last successful fetch and when it completed;
 *   fetch       the fetch in flight, or NULL: heap memory that the thread
 *               pool holds until its completion event, which frees it;
 *               exit_process frees one that never completed (the thread
 *               pools have stopped by then);
 *   waiters     requests waiting for that fetch: request pool memory,
 *               removed by the request's cleanup if the request ends
 *               first, so a request that left is never touched.
 */


#define NGX_HTTP_KAFKA_METADATA_NONE        0
#define NGX_HTTP_KAFKA_METADATA_TOPICS      1
#define NGX_HTTP_KAFKA_METADATA_TOPIC       2
#define NGX_HTTP_KAFKA_METADATA_PARTITIONS  3
#define NGX_HTTP_KAFKA_METADATA_PARTITION   4


typedef struct {
    ngx_msec_t                           timeout;
    ngx_thread_pool_t                   *thread_pool;
} ngx_http_kafka_metadata_main_conf_t;


typedef struct {
    ngx_uint_t                           kind;
    ngx_http_complex_value_t            *topic;
    ngx_http_complex_value_t            *partition;
    ngx_msec_t                           cache;

    /* kafka_produce in the same location: it serves POST, PUT, DELETE */
    ngx_http_handler_pt                  produce;
    ngx_http_kafka_entry_t              *entry;
} ngx_http_kafka_metadata_loc_conf_t;


typedef struct {
    ngx_thread_task_t                    task;

    /* read by the thread */
    rd_kafka_t                          *rk;
    int                                  timeout;

    /* written by the thread, read after completion */
    const rd_kafka_metadata_t           *md;
    rd_kafka_resp_err_t                  err;
} ngx_http_kafka_metadata_fetch_t;


typedef struct {
    const rd_kafka_metadata_t           *md;
    ngx_msec_t                           time;
    ngx_http_kafka_metadata_fetch_t     *fetch;
    ngx_queue_t                          waiters;
} ngx_http_kafka_metadata_cache_t;


typedef struct {
    ngx_queue_t                          queue;
    ngx_http_request_t                  *request;   /* NULL once served */
    ngx_http_kafka_metadata_handler_pt   handler;
} ngx_http_kafka_metadata_waiter_t;


/* the request's topic and partition, for the answer */
typedef struct {
    ngx_str_t                            topic;
    int32_t                              partition;
} ngx_http_kafka_metadata_ctx_t;


static ngx_int_t ngx_http_kafka_metadata_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_metadata_topics(ngx_http_request_t *r,
    const rd_kafka_metadata_t *md, rd_kafka_resp_err_t err);
static ngx_int_t ngx_http_kafka_metadata_describe(ngx_http_request_t *r,
    const rd_kafka_metadata_t *md, rd_kafka_resp_err_t err);
static ngx_int_t ngx_http_kafka_metadata_failed(ngx_http_request_t *r,
    rd_kafka_resp_err_t err);
static ngx_int_t ngx_http_kafka_metadata_send(ngx_http_request_t *r,
    u_char *body, size_t len);
static size_t ngx_http_kafka_metadata_partitions_len(
    const rd_kafka_metadata_topic_t *t);
static u_char *ngx_http_kafka_metadata_partitions(u_char *p,
    const rd_kafka_metadata_topic_t *t, int32_t only, ngx_pool_t *pool);
static u_char *ngx_http_kafka_metadata_partition(u_char *p,
    const rd_kafka_metadata_partition_t *part);
static int ngx_http_kafka_metadata_cmp_partitions(const void *a,
    const void *b);
static int ngx_http_kafka_metadata_cmp_names(const void *a, const void *b);
static ngx_int_t ngx_http_kafka_metadata_fetch(ngx_http_request_t *r);
static void ngx_http_kafka_metadata_thread(void *data, ngx_log_t *log);
static void ngx_http_kafka_metadata_done(ngx_event_t *ev);
static void ngx_http_kafka_metadata_cleanup(void *data);
static void *ngx_http_kafka_metadata_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_metadata_init_main_conf(ngx_conf_t *cf,
    void *conf);
static void *ngx_http_kafka_metadata_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_metadata_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_kafka_metadata(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_kafka_metadata_init_process(ngx_cycle_t *cycle);
static void ngx_http_kafka_metadata_exit_process(ngx_cycle_t *cycle);


static ngx_http_kafka_bounds_t  ngx_http_kafka_metadata_timeout_bounds = {
    ngx_http_kafka_check_bounds, 1, 60000,
    "\"kafka_metadata_timeout\" must be between 1ms and 60s"
};


static ngx_command_t  ngx_http_kafka_metadata_commands[] = {

    { ngx_string("kafka_metadata"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_kafka_metadata,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kafka_metadata_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_metadata_loc_conf_t, cache),
      NULL },

    { ngx_string("kafka_metadata_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kafka_metadata_main_conf_t, timeout),
      &ngx_http_kafka_metadata_timeout_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kafka_metadata_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_kafka_metadata_create_main_conf, /* create main configuration */
    ngx_http_kafka_metadata_init_main_conf, /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kafka_metadata_create_loc_conf, /* create location configuration */
    ngx_http_kafka_metadata_merge_loc_conf /* merge location configuration */
};


ngx_module_t  ngx_http_kafka_metadata_module = {
    NGX_MODULE_V1,
    &ngx_http_kafka_metadata_module_ctx,   /* module context */
    ngx_http_kafka_metadata_commands,      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kafka_metadata_init_process,  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kafka_metadata_exit_process,  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* kafka_metadata alone, and sharing its location with kafka_produce */

static ngx_http_kafka_entry_t  ngx_http_kafka_metadata_entry = {
    NGX_HTTP_GET|NGX_HTTP_HEAD,
    ngx_string("GET, HEAD"),
    "use GET or HEAD",
    "kafka_metadata",
    NGX_HTTP_KAFKA_ACTION_PRODUCE|NGX_HTTP_KAFKA_ACTION_CONSUME,
    1,
    1
};

static ngx_http_kafka_entry_t  ngx_http_kafka_metadata_produce_entry = {
    NGX_HTTP_GET|NGX_HTTP_HEAD,
    ngx_string("GET, HEAD, POST, PUT, DELETE"),
    "use GET or HEAD to read metadata, POST, PUT or DELETE to produce",
    "kafka_metadata",
    NGX_HTTP_KAFKA_ACTION_PRODUCE|NGX_HTTP_KAFKA_ACTION_CONSUME,
    1,
    1
};


static ngx_str_t  ngx_http_kafka_metadata_type =
    ngx_string("application/vnd.kafka.v2+json");


static ngx_http_kafka_metadata_cache_t  ngx_http_kafka_metadata_cache;


static ngx_int_t
ngx_http_kafka_metadata_handler(ngx_http_request_t *r)
{
    ngx_int_t                            rc, n;
    ngx_str_t                            topic, value;
    ngx_http_kafka_metadata_ctx_t       *ctx;
    ngx_http_kafka_metadata_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_metadata_module);

    if (mlcf->produce
        && (r->method & (NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_DELETE)))
    {
        return mlcf->produce(r);
    }

    rc = ngx_http_kafka_entry(r, mlcf->entry, mlcf->topic, &topic);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (mlcf->kind == NGX_HTTP_KAFKA_METADATA_TOPICS) {
        return ngx_http_kafka_metadata_get(r, ngx_http_kafka_metadata_topics);
    }

    ctx = ngx_palloc(r->pool, sizeof(ngx_http_kafka_metadata_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->topic = topic;
    ctx->partition = -1;

    /* the partition form: a number from 0 to 2^31-1 */

    if (mlcf->partition) {
        if (ngx_http_complex_value(r, mlcf->partition, &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        n = ngx_atoi(value.data, value.len);

        if (n == NGX_ERROR || n > NGX_MAX_INT32_VALUE) {
            return ngx_http_kafka_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         NGX_HTTP_KAFKA_REST_PARTITION_INVALID,
                                         "invalid partition \"%V\"", &value);
        }

        ctx->partition = (int32_t) n;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_kafka_metadata_module);

    return ngx_http_kafka_metadata_get(r, ngx_http_kafka_metadata_describe);
}


/* GET /topics: ["a","b"], the names the caller may see, sorted */

static ngx_int_t
ngx_http_kafka_metadata_topics(ngx_http_request_t *r,
    const rd_kafka_metadata_t *md, rd_kafka_resp_err_t err)
{
    int                         i;
    u_char                     *body, *p;
    size_t                      len;
    ngx_str_t                  *name;
    ngx_uint_t                  n;
    ngx_array_t                 names;
    ngx_http_kafka_loc_conf_t  *klcf;

    if (md == NULL) {
        return ngx_http_kafka_metadata_failed(r, err);
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_gateway_module);

    if (ngx_array_init(&names, r->pool, md->topic_cnt ? md->topic_cnt : 1,
                       sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = sizeof("[]") - 1;

    for (i = 0; i < md->topic_cnt; i++) {
        if (md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
            || (!klcf->internal_topics
                && ngx_http_kafka_metadata_internal(md->topics[i].topic)))
        {
            continue;
        }

        name = ngx_array_push(&names);
        if (name == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        name->data = (u_char *) md->topics[i].topic;
        name->len = ngx_strlen(md->topics[i].topic);

        switch (ngx_http_kafka_jwt_allowed(r, name,
                                           NGX_HTTP_KAFKA_ACTION_PRODUCE
                                           |NGX_HTTP_KAFKA_ACTION_CONSUME))
        {
        case NGX_OK:
            break;

        case NGX_DECLINED:
            names.nelts--;
            continue;

        default:
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        len += sizeof("\"\",") - 1
               + ngx_http_kafka_json_escape_len(name->data, name->len);
    }

    ngx_qsort(names.elts, names.nelts, sizeof(ngx_str_t),
              ngx_http_kafka_metadata_cmp_names);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = body;
    *p++ = '[';

    name = names.elts;

    for (n = 0; n < names.nelts; n++) {
        if (n) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_http_kafka_json_escape(p, name[n].data, name[n].len);
        *p++ = '"';
    }

    *p++ = ']';

    return ngx_http_kafka_metadata_send(r, body, p - body);
}


/*
 * GET /topics/{name}:
 *   {"name":"t","configs":{},"partitions":[{"partition":0,"leader":1,
 *    "replicas":[{"broker":1,"leader":true,"in_sync":true}]}]}
 * GET /topics/{name}/partitions: the "partitions" array alone.
 * GET /topics/{name}/partitions/{id}: one element of it, or 404 40402.
 *
 * "configs" is always empty: topic configurations are not metadata, and
 * reading them would take an admin request of its own.
 */

static ngx_int_t
ngx_http_kafka_metadata_describe(ngx_http_request_t *r,
    const rd_kafka_metadata_t *md, rd_kafka_resp_err_t err)
{
    int                                  i;
    u_char                              *body, *p;
    size_t                               len;
    ngx_http_kafka_metadata_ctx_t       *ctx;
    const rd_kafka_metadata_topic_t     *t;
    ngx_http_kafka_metadata_loc_conf_t  *mlcf;

    if (md == NULL) {
        return ngx_http_kafka_metadata_failed(r, err);
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_metadata_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_kafka_metadata_module);

    t = ngx_http_kafka_metadata_topic(md, &ctx->topic);

    if (t == NULL) {
        return ngx_http_kafka_send_error(r, NGX_HTTP_NOT_FOUND,
                                         NGX_HTTP_KAFKA_REST_TOPIC_NOT_FOUND,
                                         "topic \"%V\" not found",
                                         &ctx->topic);
    }

    if (mlcf->kind == NGX_HTTP_KAFKA_METADATA_PARTITION) {
        for (i = 0; i < t->partition_cnt; i++) {
            if (t->partitions[i].id == ctx->partition) {
                break;
            }
        }

        if (i == t->partition_cnt) {
            return ngx_http_kafka_send_error(r, NGX_HTTP_NOT_FOUND,
                                    NGX_HTTP_KAFKA_REST_PARTITION_NOT_FOUND,
                                    "partition %D of topic \"%V\" not found",
                                    ctx->partition, &ctx->topic);
        }
    }

    len = ngx_http_kafka_metadata_partitions_len(t);

    if (mlcf->kind == NGX_HTTP_KAFKA_METADATA_TOPIC) {
        len += sizeof("{\"name\":\"\",\"configs\":{},\"partitions\":}") - 1
               + ngx_http_kafka_json_escape_len(ctx->topic.data,
                                                ctx->topic.len);
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = body;

    if (mlcf->kind == NGX_HTTP_KAFKA_METADATA_TOPIC) {
        p = ngx_cpymem(p, "{\"name\":\"", sizeof("{\"name\":\"") - 1);
        p = ngx_http_kafka_json_escape(p, ctx->topic.data, ctx->topic.len);
        p = ngx_cpymem(p, "\",\"configs\":{},\"partitions\":",
                       sizeof("\",\"configs\":{},\"partitions\":") - 1);
    }

    p = ngx_http_kafka_metadata_partitions(p, t, ctx->partition, r->pool);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (mlcf->kind == NGX_HTTP_KAFKA_METADATA_TOPIC) {
        *p++ = '}';
    }

    return ngx_http_kafka_metadata_send(r, body, p - body);
}


#define NGX_HTTP_KAFKA_METADATA_JSON_PARTITION                                \
    "{\"partition\":,\"leader\":,\"replicas\":[]},"
#define NGX_HTTP_KAFKA_METADATA_JSON_REPLICA                                  \
    "{\"broker\":,\"leader\":false,\"in_sync\":false},"


static size_t
ngx_http_kafka_metadata_partitions_len(const rd_kafka_metadata_topic_t *t)
{
    int     i;
    size_t  len;

    len = sizeof("[]") - 1;

    for (i = 0; i < t->partition_cnt; i++) {
        len += sizeof(NGX_HTTP_KAFKA_METADATA_JSON_PARTITION) - 1
               + 2 * NGX_INT32_LEN
               + t->partitions[i].replica_cnt
                 * (sizeof(NGX_HTTP_KAFKA_METADATA_JSON_REPLICA) - 1
                    + NGX_INT32_LEN);
    }

    return len;
}


/*
 * The partitions by id, or only partition "only" (not -1) as an object; a
 * leader of -1 means none is elected now.
 */

static u_char *
ngx_http_kafka_metadata_partitions(u_char *p,
    const rd_kafka_metadata_topic_t *t, int32_t only, ngx_pool_t *pool)
{
    int                                    i;
    const rd_kafka_metadata_partition_t  **parts;

    if (only != -1) {
        for (i = 0; i < t->partition_cnt; i++) {
            if (t->partitions[i].id == only) {
                return ngx_http_kafka_metadata_partition(p,
                                                         &t->partitions[i]);
            }
        }

        return NULL;
    }

    parts = ngx_palloc(pool, (t->partition_cnt ? t->partition_cnt : 1)
                             * sizeof(rd_kafka_metadata_partition_t *));
    if (parts == NULL) {
        return NULL;
    }

    for (i = 0; i < t->partition_cnt; i++) {
        parts[i] = &t->partitions[i];
    }

    ngx_qsort(parts, t->partition_cnt, sizeof(rd_kafka_metadata_partition_t *),
              ngx_http_kafka_metadata_cmp_partitions);

    *p++ = '[';

    for (i = 0; i < t->partition_cnt; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_http_kafka_metadata_partition(p, parts[i]);
    }

    *p++ = ']';

    return p;
}


static u_char *
ngx_http_kafka_metadata_partition(u_char *p,
    const rd_kafka_metadata_partition_t *part)
{
    int         j, k;
    int32_t     broker;
    ngx_uint_t  in_sync;

    p = ngx_sprintf(p, "{\"partition\":%D,\"leader\":%D,\"replicas\":[",
                    part->id, part->leader);

    for (j = 0; j < part->replica_cnt; j++) {
        broker = part->replicas[j];
        in_sync = 0;

        for (k = 0; k < part->isr_cnt; k++) {
            if (part->isrs[k] == broker) {
                in_sync = 1;
                break;
            }
        }

        p = ngx_sprintf(p, "%s{\"broker\":%D,\"leader\":%s,"
                           "\"in_sync\":%s}",
                        j ? "," : "", broker,
                        (broker == part->leader) ? "true" : "false",
                        in_sync ? "true" : "false");
    }

    *p++ = ']';
    *p++ = '}';

    return p;
}


static int
ngx_http_kafka_metadata_cmp_partitions(const void *a, const void *b)
{
    const rd_kafka_metadata_partition_t  *pa, *pb;

    pa = *(const rd_kafka_metadata_partition_t **) a;
    pb = *(const rd_kafka_metadata_partition_t **) b;

    return (pa->id > pb->id) - (pa->id < pb->id);
}


static int
ngx_http_kafka_metadata_cmp_names(const void *a, const void *b)
{
    ngx_int_t         rc;
    const ngx_str_t  *na = a, *nb = b;

    rc = ngx_memn2cmp(na->data, nb->data, na->len, nb->len);

    return (rc > 0) - (rc < 0);
}


/* no broker answered in time, or the worker has no producer: 503 */

static ngx_int_t
ngx_http_kafka_metadata_failed(ngx_http_request_t *r,
    rd_kafka_resp_err_t err)
{
    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "kafka_metadata: no metadata from Kafka: %s",
                  rd_kafka_err2str(err));

    if (ngx_http_kafka_rest_retry_after(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kafka_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                     NGX_HTTP_KAFKA_REST_METADATA_UNAVAILABLE,
                                     "no metadata from Kafka: %s",
                                     rd_kafka_err2str(err));
}


static ngx_int_t
ngx_http_kafka_metadata_send(ngx_http_request_t *r, u_char *body, size_t len)
{
    return ngx_http_kafka_send_json(r, NGX_HTTP_OK,
                                    &ngx_http_kafka_metadata_type, body, len);
}


/* the API of ngx_http_kafka_metadata.h */

ngx_int_t
ngx_http_kafka_metadata_get(ngx_http_request_t *r,
    ngx_http_kafka_metadata_handler_pt handler)
{
    ngx_int_t                            rc;
    ngx_http_cleanup_t                  *cln;
    ngx_http_kafka_metadata_cache_t     *cache;
    ngx_http_kafka_metadata_waiter_t    *w;
    ngx_http_kafka_metadata_loc_conf_t  *mlcf;

    cache = &ngx_http_kafka_metadata_cache;
    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_metadata_module);

    if (cache->md && ngx_current_msec - cache->time < mlcf->cache) {
        return handler(r, cache->md, RD_KAFKA_RESP_ERR_NO_ERROR);
    }

    if (cache->fetch == NULL) {
        rc = ngx_http_kafka_metadata_fetch(r);

        if (rc == NGX_DECLINED) {
            return handler(r, NULL, RD_KAFKA_RESP_ERR__STATE);
        }

        if (rc == NGX_BUSY) {
            return handler(r, NULL, RD_KAFKA_RESP_ERR__QUEUE_FULL);
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    w = ngx_palloc(r->pool, sizeof(ngx_http_kafka_metadata_waiter_t));
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    w->request = r;
    w->handler = handler;

    cln->handler = ngx_http_kafka_metadata_cleanup;
    cln->data = w;

    ngx_queue_insert_tail(&cache->waiters, &w->queue);

    r->main->count++;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


const rd_kafka_metadata_topic_t *
ngx_http_kafka_metadata_topic(const rd_kafka_metadata_t *md, ngx_str_t *name)
{
    int  i;

    for (i = 0; i < md->topic_cnt; i++) {
        if (md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            continue;
        }

        if (ngx_strlen(md->topics[i].topic) == name->len
            && ngx_strncmp(md->topics[i].topic, name->data, name->len) == 0)
        {
            return &md->topics[i];
        }
    }

    return NULL;
}


ngx_uint_t
ngx_http_kafka_metadata_internal(const char *name)
{
    return name[0] == '_' && name[1] == '_';
}


/*
 * Posts the worker's one fetch.  NGX_DECLINED: the worker has no producer
 * (it failed to start); NGX_BUSY: the thread pool's queue is full;
 * NGX_ERROR: no memory.
 */

static ngx_int_t
ngx_http_kafka_metadata_fetch(ngx_http_request_t *r)
{
    rd_kafka_t                           *rk;
    ngx_http_kafka_metadata_fetch_t      *fetch;
    ngx_http_kafka_metadata_main_conf_t  *mmcf;

    rk = ngx_http_kafka_producer(NGX_HTTP_KAFKA_PRODUCER_ACK);
    if (rk == NULL) {
        return NGX_DECLINED;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_kafka_metadata_module);

    fetch = ngx_calloc(sizeof(ngx_http_kafka_metadata_fetch_t),
                       r->connection->log);
    if (fetch == NULL) {
        return NGX_ERROR;
    }

    fetch->rk = rk;
    fetch->timeout = (int) mmcf->timeout;

    fetch->task.ctx = fetch;
    fetch->task.handler = ngx_http_kafka_metadata_thread;
    fetch->task.event.handler = ngx_http_kafka_metadata_done;
    fetch->task.event.data = fetch;
    fetch->task.event.log = ngx_cycle->log;

    if (ngx_thread_task_post(mmcf->thread_pool, &fetch->task) != NGX_OK) {
        ngx_free(fetch);
        return NGX_BUSY;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kafka_metadata: fetch posted");

    ngx_http_kafka_metadata_cache.fetch = fetch;

    return NGX_OK;
}


/* in a thread of the pool: librdkafka only, nothing of nginx's */

static void
ngx_http_kafka_metadata_thread(void *data, ngx_log_t *log)
{
    ngx_http_kafka_metadata_fetch_t  *fetch = data;

    fetch->err = rd_kafka_metadata(fetch->rk, 1, NULL, &fetch->md,
                                   fetch->timeout);
}


/*
 * Back in the worker: the cache takes a successful answer, then every
 * waiter is answered.  The waiters are moved to a list of their own
 * first: a handler or a posted request may ask again, and that must wait
 * for a fetch of its own, not for this one.
 */

static void
ngx_http_kafka_metadata_done(ngx_event_t *ev)
{
    ngx_http_kafka_metadata_fetch_t *fetch = ev->data;

    ngx_int_t                          rc;
    ngx_uint_t                         n;
    ngx_queue_t                        waiters, *q;
    ngx_connection_t                  *c;
    ngx_http_request_t                *r;
    rd_kafka_resp_err_t                err;
    const rd_kafka_metadata_t         *md;
    ngx_http_kafka_metadata_cache_t   *cache;
    ngx_http_kafka_metadata_waiter_t  *w;

    cache = &ngx_http_kafka_metadata_cache;

    cache->fetch = NULL;
    err = fetch->err;

    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (cache->md) {
            rd_kafka_metadata_destroy(cache->md);
        }

        cache->md = fetch->md;
        cache->time = ngx_current_msec;
        md = cache->md;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "kafka_metadata: %d topic(s)", md->topic_cnt);

    } else {
        md = NULL;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "kafka_metadata: fetch failed: %s",
                       rd_kafka_err2str(err));
    }

    ngx_free(fetch);

    ngx_queue_init(&waiters);
    n = 0;

    if (!ngx_queue_empty(&cache->waiters)) {
        waiters = cache->waiters;
        waiters.next->prev = &waiters;
        waiters.prev->next = &waiters;
        ngx_queue_init(&cache->waiters);
    }

    while (!ngx_queue_empty(&waiters)) {
        q = ngx_queue_head(&waiters);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_kafka_metadata_waiter_t, queue);

        r = w->request;
        w->request = NULL;

        c = r->connection;

        ngx_http_set_log_request(c->log, r);

        rc = w->handler(r, md, err);

        ngx_http_finalize_request(r, rc);

        ngx_http_run_posted_requests(c);

        n++;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "kafka_metadata: answered %ui request(s)", n);
}


/* the request ends while it waits: forget it */

static void
ngx_http_kafka_metadata_cleanup(void *data)
{
    ngx_http_kafka_metadata_waiter_t  *w = data;

    if (w->request) {
        ngx_queue_remove(&w->queue);
        w->request = NULL;
    }
}


static void *
ngx_http_kafka_metadata_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_metadata_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_metadata_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mmcf->thread_pool = NULL;
     */

    mmcf->timeout = NGX_CONF_UNSET_MSEC;

    return mmcf;
}


static char *
ngx_http_kafka_metadata_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kafka_metadata_main_conf_t  *mmcf = conf;

    ngx_conf_init_msec_value(mmcf->timeout, 5000);

    return NGX_CONF_OK;
}


static void *
ngx_http_kafka_metadata_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_metadata_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_metadata_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->kind = NGX_HTTP_KAFKA_METADATA_NONE;
     *     conf->topic = NULL;
     *     conf->partition = NULL;
     *     conf->produce = NULL;
     *     conf->entry = NULL;
     */

    conf->cache = NGX_CONF_UNSET_MSEC;

    return conf;
}


/*
 * Runs once every directive is parsed, so whichever of kafka_metadata and
 * kafka_produce comes first, the produce handler is found here and kept
 * for POST, PUT and DELETE.
 */

static char *
ngx_http_kafka_metadata_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_kafka_metadata_loc_conf_t *prev = parent;
    ngx_http_kafka_metadata_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_kafka_produce_loc_conf_t  *plcf;

    ngx_conf_merge_msec_value(conf->cache, prev->cache, 5000);

    if (conf->kind == NGX_HTTP_KAFKA_METADATA_NONE) {
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_kafka_metadata_handler) {
        return NGX_CONF_OK;
    }

    conf->entry = &ngx_http_kafka_metadata_entry;

    if (clcf->handler) {
        plcf = ngx_http_conf_get_module_loc_conf(cf,
                                                ngx_http_kafka_produce_module);

        if (plcf->topic == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"kafka_metadata\" in location \"%V\" can share "
                          "its location only with \"kafka_produce\"",
                          &clcf->name);
            return NGX_CONF_ERROR;
        }

        conf->produce = clcf->handler;
        conf->entry = &ngx_http_kafka_metadata_produce_entry;
    }

    clcf->handler = ngx_http_kafka_metadata_handler;

    return NGX_CONF_OK;
}


/*
 * kafka_metadata topics | topic TOPIC | partitions TOPIC
 *              | partition TOPIC PARTITION
 */

static char *
ngx_http_kafka_metadata(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kafka_metadata_loc_conf_t *mlcf = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (mlcf->kind != NGX_HTTP_KAFKA_METADATA_NONE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "topics") == 0) {
        if (cf->args->nelts != 2) {
            return "takes no topic with \"topics\"";
        }

        mlcf->kind = NGX_HTTP_KAFKA_METADATA_TOPICS;

        return ngx_http_kafka_metadata_use(cf);
    }

    if (ngx_strcmp(value[1].data, "topic") == 0) {
        mlcf->kind = NGX_HTTP_KAFKA_METADATA_TOPIC;

    } else if (ngx_strcmp(value[1].data, "partitions") == 0) {
        mlcf->kind = NGX_HTTP_KAFKA_METADATA_PARTITIONS;

    } else if (ngx_strcmp(value[1].data, "partition") == 0) {
        mlcf->kind = NGX_HTTP_KAFKA_METADATA_PARTITION;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", expected \"topics\", "
                           "\"topic\", \"partitions\" or \"partition\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts
        != ((mlcf->kind == NGX_HTTP_KAFKA_METADATA_PARTITION) ? 4 : 3))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           (mlcf->kind == NGX_HTTP_KAFKA_METADATA_PARTITION)
                           ? "\"%V\" requires a topic and a partition"
                           : "\"%V\" requires a topic", &value[1]);
        return NGX_CONF_ERROR;
    }

    mlcf->topic = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (mlcf->topic == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = mlcf->topic;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (mlcf->topic->lengths == NULL
        && ngx_http_kafka_topic_valid(&mlcf->topic->value) != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid topic name \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (mlcf->kind == NGX_HTTP_KAFKA_METADATA_PARTITION) {
        mlcf->partition = ngx_palloc(cf->pool,
                                     sizeof(ngx_http_complex_value_t));
        if (mlcf->partition == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[3];
        ccv.complex_value = mlcf->partition;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return ngx_http_kafka_metadata_use(cf);
}


/*
 * At configuration time, for every location that reads metadata: the
 * worker needs a producer (whose handle fetches it) and the thread pool.
 */

char *
ngx_http_kafka_metadata_use(ngx_conf_t *cf)
{
    ngx_http_kafka_main_conf_t           *kmcf;
    ngx_http_kafka_metadata_main_conf_t  *mmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_kafka_gateway_module);
    kmcf->producer_used = 1;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_kafka_metadata_module);

    if (mmcf->thread_pool == NULL) {
        mmcf->thread_pool = ngx_thread_pool_add(cf, NULL);
        if (mmcf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kafka_metadata_init_process(ngx_cycle_t *cycle)
{
    ngx_memzero(&ngx_http_kafka_metadata_cache,
                sizeof(ngx_http_kafka_metadata_cache_t));

    ngx_queue_init(&ngx_http_kafka_metadata_cache.waiters);

    return NGX_OK;
}


/*
 * The thread pools have stopped before this runs (core modules exit
 * first): a fetch that is still here will never be completed.
 */

static void
ngx_http_kafka_metadata_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_kafka_metadata_cache_t  *cache;

    cache = &ngx_http_kafka_metadata_cache;

    if (cache->fetch) {
        if (cache->fetch->task.event.posted) {
            ngx_delete_posted_event(&cache->fetch->task.event);
        }

        if (cache->fetch->md) {
            rd_kafka_metadata_destroy(cache->fetch->md);
        }

        ngx_free(cache->fetch);
        cache->fetch = NULL;
    }

    if (cache->md) {
        rd_kafka_metadata_destroy(cache->md);
        cache->md = NULL;
    }
}
