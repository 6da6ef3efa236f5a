
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_bridge.h"
#include "ngx_http_kafka_status.h"


static void ngx_http_kafka_bridge_handler(ngx_event_t *rev);


void
ngx_http_kafka_log_event(ngx_log_t *log, rd_kafka_event_t *ev,
    ngx_http_kafka_health_t *health, const char *client)
{
    int                   level;
    ngx_uint_t            ngx_level;
    const char           *fac, *str;
    rd_kafka_resp_err_t   err;

    switch (rd_kafka_event_type(ev)) {

    case RD_KAFKA_EVENT_LOG:
        if (rd_kafka_event_log(ev, &fac, &str, &level) != 0) {
            return;
        }

        /*
         * librdkafka's syslog levels, one step down: its "errors" are
         * mostly retried connection problems that error events report
         * once per state change.
         */

        if (level <= 3) {
            ngx_level = NGX_LOG_WARN;

        } else if (level == 4) {
            ngx_level = NGX_LOG_NOTICE;

        } else if (level <= 6) {
            ngx_level = NGX_LOG_INFO;

        } else {
            ngx_level = NGX_LOG_DEBUG;
        }

        ngx_log_error(ngx_level, log, 0, "kafka %s: [%s] %s",
                      client, fac, str);
        return;

    case RD_KAFKA_EVENT_ERROR:
        err = rd_kafka_event_error(ev);

        if (rd_kafka_event_error_is_fatal(ev)) {
            ngx_log_error(NGX_LOG_CRIT, log, 0, "kafka %s: fatal error: %s",
                          client, rd_kafka_event_error_string(ev));
            ngx_http_kafka_status_fatal(client,
                                        rd_kafka_event_error_string(ev));
            return;
        }

        ngx_http_kafka_health_error(log, health, client, err,
                                    rd_kafka_event_error_string(ev));
        return;

    case RD_KAFKA_EVENT_STATS:
        ngx_http_kafka_status_stats(client, rd_kafka_event_stats(ev));
        return;

    default:
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                       "kafka %s: ignored event %s",
                       client, rd_kafka_event_name(ev));
        return;
    }
}


void
ngx_http_kafka_health_error(ngx_log_t *log, ngx_http_kafka_health_t *health,
    const char *client, rd_kafka_resp_err_t err, const char *reason)
{
    ngx_uint_t  i;

    for (i = 0; i < health->nseen; i++) {
        if (health->seen[i] == err) {
            ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                           "kafka %s: %s (%s), already reported",
                           client, reason, rd_kafka_err2name(err));
            return;
        }
    }

    if (health->nseen < NGX_HTTP_KAFKA_HEALTH_SEEN) {
        health->seen[health->nseen++] = err;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0, "kafka %s: %s (%s)",
                  client, reason, rd_kafka_err2name(err));
}


void
ngx_http_kafka_health_ok(ngx_log_t *log, ngx_http_kafka_health_t *health,
    const char *client)
{
    if (health->nseen == 0) {
        return;
    }

    health->nseen = 0;

    ngx_log_error(NGX_LOG_NOTICE, log, 0, "kafka %s: working again", client);
}


ngx_int_t
ngx_http_kafka_bridge_open(ngx_http_kafka_bridge_t *bridge,
    rd_kafka_queue_t *queue, ngx_http_kafka_bridge_serve_pt serve,
    void *data, ngx_log_t *log)
{
    int                fds[2];
    ngx_event_t       *rev;
    ngx_connection_t  *c;

    if (pipe(fds) == -1) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno, "pipe() failed");
        return NGX_ERROR;
    }

    if (ngx_nonblocking(fds[0]) == -1 || ngx_nonblocking(fds[1]) == -1
        || fcntl(fds[0], F_SETFD, FD_CLOEXEC) == -1
        || fcntl(fds[1], F_SETFD, FD_CLOEXEC) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "could not set up the kafka event pipe");
        goto failed;
    }

    c = ngx_get_connection(fds[0], log);
    if (c == NULL) {
        goto failed;
    }

    c->data = bridge;

    rev = c->read;
    rev->handler = ngx_http_kafka_bridge_handler;
    rev->log = log;

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_free_connection(c);
        goto failed;
    }

    bridge->connection = c;
    bridge->write_fd = fds[1];
    bridge->queue = queue;
    bridge->serve = serve;
    bridge->data = data;

    rd_kafka_queue_io_event_enable(queue, fds[1], "k", 1);

    /* events queued before the pipe was attached */

    ngx_post_event(rev, &ngx_posted_events);

    return NGX_OK;

failed:

    (void) close(fds[0]);
    (void) close(fds[1]);

    return NGX_ERROR;
}


void
ngx_http_kafka_bridge_close(ngx_http_kafka_bridge_t *bridge)
{
    if (bridge->connection == NULL) {
        return;
    }

    rd_kafka_queue_io_event_enable(bridge->queue, -1, NULL, 0);

    ngx_close_connection(bridge->connection);
    bridge->connection = NULL;

    if (close(bridge->write_fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "close() kafka event pipe failed");
    }
}


static void
ngx_http_kafka_bridge_handler(ngx_event_t *rev)
{
    u_char                    buf[64];
    ssize_t                   n;
    ngx_err_t                 err;
    ngx_connection_t         *c;
    ngx_http_kafka_bridge_t  *bridge;

    c = rev->data;
    bridge = c->data;

    /*
     * Drain the wake-ups first: anything queued later writes a new one.
     * A read shorter than the buffer emptied the pipe; another read would
     * only return EAGAIN, a system call for each wake-up.
     */

    for ( ;; ) {
        n = read(c->fd, buf, sizeof(buf));

        if (n > 0) {
            if ((size_t) n < sizeof(buf)) {
                break;
            }

            continue;
        }

        if (n == 0) {
            break;
        }

        err = ngx_errno;

        if (err == NGX_EAGAIN) {
            break;
        }

        if (err == NGX_EINTR) {
            continue;
        }

        ngx_log_error(NGX_LOG_ALERT, rev->log, err,
                      "read() from kafka event pipe failed");
        break;
    }

    /*
     * More to serve: on the next loop iteration, after epoll and timers.
     * ngx_posted_events would run the handler again before either, until
     * the queue is empty.
     */

    if (bridge->serve(bridge->data) == NGX_AGAIN) {
        ngx_post_event(rev, &ngx_posted_next_events);
    }
}


/*
 * A worker's client handle from the configuration built in the master:
 * librdkafka's callbacks are replaced by the "events" on a queue, and the
 * logs held back by log.queue=true go to the main queue.
 */

rd_kafka_t *
ngx_http_kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *template,
    int events, ngx_log_t *log)
{
    char              errstr[512];
    rd_kafka_t       *rk;
    rd_kafka_conf_t  *conf;

    conf = rd_kafka_conf_dup(template);
    if (conf == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "rd_kafka_conf_dup() failed");
        return NULL;
    }

    /* statistics come only with statistics.interval.ms set */

    rd_kafka_conf_set_events(conf, events | RD_KAFKA_EVENT_STATS);

    rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "kafka %s could not be created: %s",
                      (type == RD_KAFKA_PRODUCER) ? "producer" : "consumer",
                      errstr);
        return NULL;
    }

    if (rd_kafka_set_log_queue(rk, NULL) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "rd_kafka_set_log_queue() failed");
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        return NULL;
    }

    return rk;
}


/*
 * Serves a queue from the worker's own thread, polling "poll" ms at a
 * time, until "done" says so or "timeout" passes.  For a client's last
 * events in exit_process, where the event loop no longer runs.
 */

void
ngx_http_kafka_drain(rd_kafka_queue_t *queue, ngx_msec_t timeout, int poll,
    ngx_http_kafka_drain_done_pt done, ngx_http_kafka_event_pt handler,
    void *data)
{
    ngx_msec_t         deadline;
    rd_kafka_event_t  *ev;

    ngx_time_update();
    deadline = ngx_current_msec + timeout;

    while (!done(data)
           && (ngx_msec_int_t) (deadline - ngx_current_msec) > 0)
    {
        ev = rd_kafka_queue_poll(queue, poll);
        if (ev) {
            handler(data, ev);
        }

        ngx_time_update();
    }
}
