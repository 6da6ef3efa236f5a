
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_METADATA_H_INCLUDED_
#define _NGX_HTTP_KAFKA_METADATA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <librdkafka/rdkafka.h>


/*
 * Kafka's metadata for content handlers: every topic of the cluster and,
 * per topic, its partitions with their leader, replicas and in-sync
 * replicas, as librdkafka's rd_kafka_metadata() describes them
 * (rd_kafka_metadata_t, rd_kafka_metadata_topic_t, ...).
 *
 * Each worker keeps the last answer it fetched.  A request takes it while
 * it is younger than the kafka_metadata_cache of the request's location;
 * otherwise one fetch runs in the "default" thread pool, on the worker's
 * producer handle, bounded by kafka_metadata_timeout, and every request
 * that asks meanwhile waits for that same fetch.
 *
 * The contract of ngx_http_kafka_metadata_get(r, handler), called from a
 * content handler of a main request (after ngx_http_kafka_entry(), with
 * the request body discarded, and the caller's own checks), whose result
 * the content handler returns as it is:
 *
 *   - fresh metadata: the handler is called before get() returns, and
 *     get() returns the handler's result;
 *
 *   - otherwise the request waits (get() takes a reference,
 *     r->main->count++, and returns NGX_DONE); the handler is called later
 *     from the event loop, once the fetch has succeeded or failed, and
 *     its result is passed to ngx_http_finalize_request(), then the
 *     connection's posted requests run.  A request that ends while it
 *     waits (the client left, the worker is terminating it) is forgotten
 *     by its request cleanup: its handler is never called and nothing of
 *     it is touched afterwards;
 *
 *   - get() returns NGX_HTTP_INTERNAL_SERVER_ERROR if it cannot allocate.
 *
 * The handler is called with md != NULL and err == NO_ERROR, or with
 * md == NULL and the error (e.g. RD_KAFKA_RESP_ERR__TRANSPORT or
 * __TIMED_OUT: no broker answered within kafka_metadata_timeout;
 * __STATE: the worker has no producer; __QUEUE_FULL: the thread pool's
 * queue is full): the handler answers as a content handler would
 * (typically 503).  It must not keep "md" or anything in it
 * once it returns: the next fetch replaces it.
 *
 * md->topics holds internal topics too; ngx_http_kafka_metadata_internal()
 * tells them.  Partitions are in the broker's order, not necessarily by id.
 *
 * A location that uses the metadata calls ngx_http_kafka_metadata_use()
 * from its directive handler, at configuration time: it makes sure the
 * worker starts a producer and adds the thread pool.
 */

typedef ngx_int_t (*ngx_http_kafka_metadata_handler_pt)(ngx_http_request_t *r,
    const rd_kafka_metadata_t *md, rd_kafka_resp_err_t err);


extern ngx_module_t  ngx_http_kafka_metadata_module;


char *ngx_http_kafka_metadata_use(ngx_conf_t *cf);
ngx_int_t ngx_http_kafka_metadata_get(ngx_http_request_t *r,
    ngx_http_kafka_metadata_handler_pt handler);

/* the topic named "name" in "md", or NULL */
const rd_kafka_metadata_topic_t *ngx_http_kafka_metadata_topic(
    const rd_kafka_metadata_t *md, ngx_str_t *name);

/* Kafka's own topics ("__consumer_offsets"...): the name starts with "__" */
ngx_uint_t ngx_http_kafka_metadata_internal(const char *name);


#endif /* _NGX_HTTP_KAFKA_METADATA_H_INCLUDED_ */
