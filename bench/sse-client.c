/*
 * sse-client: a single-threaded epoll load client for Server-Sent Events.
 *
 * Build:
 *     cc -std=gnu99 -O2 -g -Wall -Wextra -Werror -o sse-client \
 *         sse-client.c -lm
 *
 * Usage:
 *     sse-client -p PORT -u PATH -n CLIENTS [-H 127.0.0.1]
 *                [-c CONNECT_RATE_PER_SEC] [-r REPORT_FILE]
 *
 * Opens CLIENTS HTTP/1.1 connections to HOST:PORT (at most CONNECT_RATE
 * new ones a second, default 5000; for a 127.x HOST the source addresses
 * are spread over 127.0.0.2..254), sends "GET PATH" with "Accept:
 * text/event-stream" on each and parses the answers: status line (must be
 * 200), headers, then the body, de-chunked if "Transfer-Encoding: chunked",
 * read until EOF otherwise.  Every SSE event with data counts as an event;
 * if its data holds "t":<integer> (the sender's CLOCK_REALTIME in
 * microseconds) the latency now - t goes into a histogram (1 us buckets
 * below 1.024 ms, then 128 log-linear buckets an octave, relative error
 * < 0.4%, up to 67 s).  Lines beginning with ':' count as comments.
 *
 * Once every connection got its response headers or failed, one line
 * "connected K" goes to stdout, K the connections that got a 200; the
 * failures are listed on stderr.  Then stdin is read, a command a line:
 *
 *     reset    zero the event, comment and latency counters, start a window
 *     report   print one line (also appended to REPORT_FILE if -r):
 *              events=E comments=C clients=K errors=X closed=Z window_s=W
 *              events_per_s=R p50_ms=.. p99_ms=.. p999_ms=.. max_ms=..
 *              cpu_s=..
 *     quit     (or EOF) close everything and exit 0
 *
 * E, C, W, the latencies and cpu_s (this process's user+sys CPU seconds)
 * are since the last reset (or since start); K is the connections open and
 * healthy now; X (failed connects, non-200 answers, protocol errors, setup
 * timeouts of 30 s) and Z (connections closed by the server after their
 * 200) are since start.  Signals: SIGUSR1 report, SIGUSR2 reset,
 * SIGINT/SIGTERM quit.
 *
 * Memory is allocated once: a connection has a 4 KiB line buffer (longer
 * lines are truncated: a "data:" line still makes an event, its timestamp
 * is searched in the first 4 KiB); reads go to one shared 64 KiB buffer.
 */

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <math.h>
#include <unistd.h>
#include <signal.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT  24
#endif

#define LINE_LEN         4096         /* per-connection line buffer */
#define RBUF_SIZE        65536        /* shared read buffer */
#define MAX_EVENTS       4096         /* epoll_wait batch */
#define SETUP_TIMEOUT_US 30000000     /* connect + response headers */
#define TAG_STDIN        0xffffffffu
#define TAG_SIGNAL       0xfffffffeu

#define H_EXACT          1024         /* 1 us buckets below this */
#define H_SUB_BITS       7            /* 128 sub-buckets an octave */
#define H_OCT_MIN        10
#define H_OCT_MAX        25           /* last octave: [2^25, 2^26) us */
#define H_BUCKETS        (H_EXACT + ((H_OCT_MAX - H_OCT_MIN + 1)          \
                                     << H_SUB_BITS))

enum { ST_IDLE, ST_CONNECTING, ST_STATUS, ST_HEADERS, ST_BODY, ST_DEAD };
enum { CH_SIZE, CH_EXT, CH_DATA, CH_CR, CH_LF };
enum { E_CONNECT, E_STATUS, E_PROTO, E_TIMEOUT, E_CLOSED, E_N };

static const char  *err_names[E_N] = {
    "connect", "non-200", "protocol", "timeout", "closed by server"
};

typedef struct {
    int        fd;
    uint8_t    state;
    uint8_t    chunked;
    uint8_t    cstate;            /* chunked decoder state */
    uint8_t    cdigits;           /* chunk size digits seen */
    uint8_t    ltrunc;            /* line longer than lbuf: truncated */
    uint8_t    ev_data;           /* current event has data */
    uint32_t   llen;
    uint64_t   csize;             /* chunk size being parsed / bytes left */
    int64_t    ev_ts;             /* timestamp of current event, -1: none */
    int64_t    start_us;
    u_char     lbuf[LINE_LEN];
} conn_t;

static conn_t     *conns;
static int         nconns, launched, pending, n_ok, n_open, ep;
static int         spread_src, setup_done;
static uint64_t    n_events, n_comments, errs[E_N];
static uint64_t    hist[H_BUCKETS], h_count, h_max;
static int64_t     win_start_us, win_cpu_us, read_now_us;
static FILE       *report_fp;
static u_char      rbuf[RBUF_SIZE];
static char        request[2048];
static size_t      request_len;
static struct sockaddr_in  dst;

static int64_t
now_us(clockid_t clk)
{
    struct timespec  ts;

    clock_gettime(clk, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
cpu_us(void)
{
    struct rusage  ru;

    getrusage(RUSAGE_SELF, &ru);
    return (int64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000
           + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void
hist_add(uint64_t v)
{
    int  k, idx;

    h_count++;
    h_max = v > h_max ? v : h_max;

    if (v < H_EXACT) {
        idx = (int) v;

    } else {
        k = 63 - __builtin_clzll(v);
        if (k > H_OCT_MAX) {
            k = H_OCT_MAX;
            v = (2ULL << H_OCT_MAX) - 1;
        }
        idx = H_EXACT + ((k - H_OCT_MIN) << H_SUB_BITS)
              + (int) ((v >> (k - H_SUB_BITS)) & ((1 << H_SUB_BITS) - 1));
    }

    hist[idx]++;
}

/* the value at quantile q (its bucket's midpoint), in milliseconds */

static double
hist_ms(double q)
{
    int       i, k, sub;
    uint64_t  rank, cum;
    double    v;

    if (h_count == 0) {
        return 0;
    }

    rank = (uint64_t) ceil(q * (double) h_count - 1e-9);
    rank = rank < 1 ? 1 : rank;

    for (i = 0, cum = 0; i < H_BUCKETS - 1; i++) {
        cum += hist[i];
        if (cum >= rank) {
            break;
        }
    }

    if (i < H_EXACT) {
        v = i;

    } else {
        k = ((i - H_EXACT) >> H_SUB_BITS) + H_OCT_MIN;
        sub = (i - H_EXACT) & ((1 << H_SUB_BITS) - 1);
        v = ldexp((1 << H_SUB_BITS) + sub + 0.5, k - H_SUB_BITS);
    }

    return (v > (double) h_max ? (double) h_max : v) / 1e3;
}

static void
do_reset(void)
{
    memset(hist, 0, sizeof(hist));
    h_count = h_max = n_events = n_comments = 0;
    win_start_us = now_us(CLOCK_MONOTONIC);
    win_cpu_us = cpu_us();
}

static void
do_report(void)
{
    char      line[512];
    double    win;
    uint64_t  e;

    win = (now_us(CLOCK_MONOTONIC) - win_start_us) / 1e6;
    e = errs[E_CONNECT] + errs[E_STATUS] + errs[E_PROTO] + errs[E_TIMEOUT];

    snprintf(line, sizeof(line),
             "events=%llu comments=%llu clients=%d errors=%llu closed=%llu "
             "window_s=%.3f events_per_s=%.1f p50_ms=%.3f p99_ms=%.3f "
             "p999_ms=%.3f max_ms=%.3f cpu_s=%.3f\n",
             (unsigned long long) n_events, (unsigned long long) n_comments,
             n_open, (unsigned long long) e,
             (unsigned long long) errs[E_CLOSED], win,
             win > 0 ? (double) n_events / win : 0.0,
             hist_ms(0.50), hist_ms(0.99), hist_ms(0.999),
             (double) h_max / 1e3, (cpu_us() - win_cpu_us) / 1e6);

    fputs(line, stdout);
    fflush(stdout);

    if (report_fp) {
        fputs(line, report_fp);
        fflush(report_fp);
    }
}

/* close a connection and count why (one of E_*) */

static void
conn_close(conn_t *c, int why, const char *msg)
{
    if (c->state == ST_BODY) {
        n_open--;
    } else if (c->state != ST_DEAD && c->state != ST_IDLE) {
        pending--;
    }

    if (errs[why]++ < 10) {
        fprintf(stderr, "sse-client: connection %d: %s: %s\n",
                (int) (c - conns), err_names[why], msg);
    }

    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->state = ST_DEAD;
}

static void
conn_start(conn_t *c)
{
    int                 one = 1, i = (int) (c - conns);
    struct sockaddr_in  src;
    struct epoll_event  ev;

    c->state = ST_CONNECTING;
    c->start_us = now_us(CLOCK_MONOTONIC);
    c->ev_ts = -1;
    pending++;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_close(c, E_CONNECT, strerror(errno));
        return;
    }

    if (spread_src) {
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000002 + i % 253);

        /* the port is chosen at connect(): unique per 4-tuple only */
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                   sizeof(one));

        if (bind(c->fd, (struct sockaddr *) &src, sizeof(src)) < 0) {
            conn_close(c, E_CONNECT, strerror(errno));
            return;
        }
    }

    ev.events = EPOLLOUT;
    ev.data.u32 = (uint32_t) i;

    if ((connect(c->fd, (struct sockaddr *) &dst, sizeof(dst)) < 0
         && errno != EINPROGRESS)
        || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
    {
        conn_close(c, E_CONNECT, strerror(errno));
    }
}

static void
conn_connected(conn_t *c)
{
    int                 err = 0;
    socklen_t           len = sizeof(err);
    struct epoll_event  ev;

    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        conn_close(c, E_CONNECT, strerror(err));
        return;
    }

    /* the request is small: it fits a fresh socket's send buffer */
    if (send(c->fd, request, request_len, MSG_NOSIGNAL)
        != (ssize_t) request_len)
    {
        conn_close(c, E_CONNECT, "cannot send the request");
        return;
    }

    ev.events = EPOLLIN;
    ev.data.u32 = (uint32_t) (c - conns);
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->state = ST_STATUS;
}

/*
 * Take a line from the input p, n: returns 1 with line, len set (the line
 * without its "\n" or "\r\n", in place or in the connection's line buffer),
 * or 0 when all of the input went to the line buffer.  The caller empties
 * the line buffer after a line.
 */

static int
line_take(conn_t *c, u_char **p, size_t *n, u_char **line, size_t *len)
{
    u_char  *nl;
    size_t   m, cp;

    nl = memchr(*p, '\n', *n);
    m = nl ? (size_t) (nl - *p) : *n;

    if (nl && c->llen == 0) {
        *line = *p;
        *len = m < LINE_LEN ? m : LINE_LEN;
        c->ltrunc = m > LINE_LEN;

    } else {
        cp = m;
        if (cp > LINE_LEN - c->llen) {
            cp = LINE_LEN - c->llen;
            c->ltrunc = 1;
        }
        memcpy(c->lbuf + c->llen, *p, cp);
        c->llen += cp;
        *line = c->lbuf;
        *len = c->llen;
    }

    *p += m + (nl != NULL);
    *n -= m + (nl != NULL);

    if (nl == NULL) {
        return 0;
    }

    if (*len && (*line)[*len - 1] == '\r') {
        (*len)--;
    }
    return 1;
}

static void
sse_line(conn_t *c, u_char *line, size_t len)
{
    u_char   *t, *d, *end;
    int64_t   v;

    if (len == 0) {
        if (c->ev_data) {
            n_events++;
            if (c->ev_ts >= 0) {
                if (read_now_us == 0) {
                    read_now_us = now_us(CLOCK_REALTIME);
                }
                v = read_now_us - c->ev_ts;
                hist_add(v > 0 ? (uint64_t) v : 0);
            }
        }
        c->ev_data = 0;
        c->ev_ts = -1;
        return;
    }

    if (line[0] == ':') {
        n_comments++;
        return;
    }

    if (len < 4 || memcmp(line, "data", 4) != 0
        || (len > 4 && line[4] != ':'))
    {
        return;                 /* id:, event:, retry: or unknown */
    }

    c->ev_data = 1;
    end = line + len;
    t = c->ev_ts < 0 ? memmem(line + 4, len - 4, "\"t\":", 4) : NULL;
    if (t == NULL) {
        return;
    }

    for (t += 4; t < end && *t == ' '; t++) { /* void */ }

    for (v = 0, d = t; t < end && *t >= '0' && *t <= '9' && t - d < 18; t++) {
        v = v * 10 + (*t - '0');
    }

    /* in a truncated line the number may go on past the end */
    if (t > d && (t == end ? !c->ltrunc : (*t < '0' || *t > '9'))) {
        c->ev_ts = v;
    }
}

static void
sse_feed(conn_t *c, u_char *p, size_t n)
{
    u_char  *line;
    size_t   len;

    while (n > 0) {
        if (line_take(c, &p, &n, &line, &len)) {
            sse_line(c, line, len);
            c->llen = 0;
            c->ltrunc = 0;
        }
    }
}

static void
header_line(conn_t *c, u_char *line, size_t len)
{
    char    buf[32];
    size_t  i;

    if (c->state == ST_STATUS) {
        if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ') {
            conn_close(c, E_PROTO, "bad status line");

        } else if (memcmp(line + 9, "200", 3) != 0) {
            snprintf(buf, sizeof(buf), "status %.3s", line + 9);
            conn_close(c, E_STATUS, buf);

        } else {
            c->state = ST_HEADERS;
        }
        return;
    }

    if (len == 0) {
        c->state = ST_BODY;
        c->cstate = CH_SIZE;
        pending--;
        n_ok++;
        n_open++;
        return;
    }

    if (len > 18 && strncasecmp((char *) line, "transfer-encoding:", 18) == 0) {
        for (i = 18; i + 7 <= len; i++) {
            if (strncasecmp((char *) line + i, "chunked", 7) == 0) {
                c->chunked = 1;
            }
        }
    }
}

/* the chunked decoder: returns 0 if the connection was closed */

static int
chunked_feed(conn_t *c, u_char *p, size_t n)
{
    u_char  ch;
    size_t  m;
    int     v;

    while (n > 0) {

        if (c->cstate == CH_DATA) {
            m = c->csize < n ? (size_t) c->csize : n;
            sse_feed(c, p, m);
            p += m;
            n -= m;
            c->csize -= m;
            if (c->csize == 0) {
                c->cstate = CH_CR;
            }
            continue;
        }

        ch = *p++;
        n--;

        if (c->cstate == CH_CR || c->cstate == CH_LF) {
            if (ch == '\r' && c->cstate == CH_CR) {
                c->cstate = CH_LF;
            } else if (ch == '\n') {
                c->cstate = CH_SIZE;
            } else {
                conn_close(c, E_PROTO, "bad chunk end");
                return 0;
            }
            continue;
        }

        /* CH_SIZE: hex digits, then CH_EXT: anything up to "\n" */

        if (c->cstate == CH_EXT && ch != '\n') {
            continue;
        }

        v = (ch >= '0' && ch <= '9') ? ch - '0'
            : ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
              ? (ch | 0x20) - 'a' + 10 : -1;

        if (v >= 0 && c->csize < (1ULL << 40)) {
            c->csize = c->csize * 16 + v;
            c->cdigits = 1;

        } else if (!c->cdigits || !memchr("\r\n; \t", ch, 5)) {
            conn_close(c, E_PROTO, "bad chunk size");
            return 0;

        } else if (ch != '\n') {
            c->cstate = CH_EXT;

        } else if (c->csize == 0) {
            conn_close(c, E_CLOSED, "last chunk");
            return 0;

        } else {
            c->cdigits = 0;
            c->cstate = CH_DATA;
        }
    }

    return 1;
}

static void
conn_read(conn_t *c)
{
    u_char   *p, *line;
    size_t    n, len;
    ssize_t   r;
    int       i;

    for (i = 0; i < 4; i++) {
        r = read(c->fd, rbuf, RBUF_SIZE);

        if (r <= 0) {
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                return;
            }
            conn_close(c, c->state == ST_BODY ? E_CLOSED : E_PROTO,
                       r ? strerror(errno) : "eof");
            return;
        }

        read_now_us = 0;
        p = rbuf;
        n = (size_t) r;

        while (n > 0 && c->state != ST_BODY) {
            if (line_take(c, &p, &n, &line, &len)) {
                header_line(c, line, len);
                c->llen = 0;
                c->ltrunc = 0;
                if (c->state == ST_DEAD) {
                    return;
                }
            }
        }

        if (n > 0) {
            if (!c->chunked) {
                sse_feed(c, p, n);
            } else if (!chunked_feed(c, p, n)) {
                return;
            }
        }

        if (r < RBUF_SIZE) {
            return;
        }
    }
}

/* returns 0 on quit or EOF */

static int
stdin_read(void)
{
    static char    buf[1024];
    static size_t  len;
    char          *nl, cmd[16];
    ssize_t        n;

    n = read(0, buf + len, sizeof(buf) - 1 - len);
    if (n <= 0) {
        return n < 0 && errno == EINTR;
    }
    len += n;

    while ((nl = memchr(buf, '\n', len)) != NULL || len == sizeof(buf) - 1) {
        nl = nl ? nl : buf + len - 1;
        *nl = '\0';

        if (sscanf(buf, "%15s", cmd) != 1) {
            cmd[0] = '\0';
        }

        if (strcmp(cmd, "reset") == 0) {
            do_reset();
        } else if (strcmp(cmd, "report") == 0) {
            do_report();
        } else if (strcmp(cmd, "quit") == 0) {
            return 0;
        } else if (cmd[0]) {
            fprintf(stderr, "sse-client: unknown command \"%s\"\n", cmd);
        }

        len -= nl + 1 - buf;
        memmove(buf, nl + 1, len);
    }

    return 1;
}

/* all connections are set up: returns 0 to quit */

static int
setup_finish(void)
{
    int                 i;
    struct epoll_event  ev;

    setup_done = 1;
    printf("connected %d\n", n_ok);
    fflush(stdout);

    if (n_ok < nconns) {
        fprintf(stderr, "sse-client: %d of %d connections failed:",
                nconns - n_ok, nconns);
        for (i = 0; i < E_N; i++) {
            fprintf(stderr, " %s %llu", err_names[i],
                    (unsigned long long) errs[i]);
        }
        fputc('\n', stderr);
    }

    ev.events = EPOLLIN;
    ev.data.u32 = TAG_STDIN;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) < 0) {
        /* a regular file or /dev/null: it never blocks */
        while (stdin_read()) { /* void */ }
        return 0;
    }

    return 1;
}

int
main(int argc, char **argv)
{
    int                      opt, i, n, rate = 5000, port = 0, sfd, run;
    int                      budget;
    char                    *host = "127.0.0.1", *path = NULL, *rfile = NULL;
    conn_t                  *c;
    int64_t                  t0, now, last_check = 0;
    sigset_t                 mask;
    struct rlimit            rl;
    struct signalfd_siginfo  si;
    struct epoll_event       ev, *evs;

    while ((opt = getopt(argc, argv, "p:u:n:H:c:r:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'u': path = optarg; break;
        case 'n': nconns = atoi(optarg); break;
        case 'H': host = optarg; break;
        case 'c': rate = atoi(optarg); break;
        case 'r': rfile = optarg; break;
        default: goto usage;
        }
    }

    if (port <= 0 || port > 65535 || path == NULL || nconns <= 0
        || rate <= 0 || optind != argc)
    {
        goto usage;
    }

    memset(&dst, 0, sizeof(dst));
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
        fprintf(stderr, "sse-client: bad IPv4 address \"%s\"\n", host);
        return 1;
    }
    spread_src = (ntohl(dst.sin_addr.s_addr) >> 24) == 127;

    request_len = snprintf(request, sizeof(request),
                           "GET %s HTTP/1.1\r\nHost: localhost\r\n"
                           "Accept: text/event-stream\r\n\r\n", path);
    if (request_len >= sizeof(request)) {
        fprintf(stderr, "sse-client: path too long\n");
        return 1;
    }

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0
        || rl.rlim_cur < (rlim_t) nconns + 64)
    {
        fprintf(stderr, "sse-client: RLIMIT_NOFILE is %llu, %d clients "
                "need at least %d (raise the hard limit: ulimit -Hn)\n",
                (unsigned long long) rl.rlim_cur, nconns, nconns + 64);
        return 1;
    }

    if (rfile && (report_fp = fopen(rfile, "a")) == NULL) {
        perror(rfile);
        return 1;
    }

    conns = calloc(nconns, sizeof(conn_t));
    evs = calloc(MAX_EVENTS, sizeof(struct epoll_event));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || evs == NULL || ep < 0) {
        perror("sse-client: init");
        return 1;
    }

    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.u32 = TAG_SIGNAL;
    if (sfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0) {
        perror("sse-client: signalfd");
        return 1;
    }

    t0 = now_us(CLOCK_MONOTONIC);
    do_reset();

    for (run = 1; run; ) {

        /* paced connects: at most 1000 per loop to keep reading */

        if (launched < nconns) {
            now = now_us(CLOCK_MONOTONIC);
            budget = (int) ((now - t0) * rate / 1000000) + 1 - launched;
            for (budget = budget > 1000 ? 1000 : budget;
                 budget > 0 && launched < nconns; budget--)
            {
                conn_start(&conns[launched++]);
            }
        }

        if (!setup_done && launched == nconns && pending == 0) {
            if (!setup_finish()) {
                break;
            }
        }

        n = epoll_wait(ep, evs, MAX_EVENTS,
                       launched < nconns ? 1 : (setup_done ? -1 : 100));
        if (n < 0 && errno != EINTR) {
            perror("sse-client: epoll_wait");
            return 1;
        }

        for (i = 0; i < n; i++) {
            if (evs[i].data.u32 == TAG_STDIN) {
                run = run && stdin_read();
                continue;
            }

            if (evs[i].data.u32 == TAG_SIGNAL) {
                while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGUSR1) {
                        do_report();
                    } else if (si.ssi_signo == SIGUSR2) {
                        do_reset();
                    } else {
                        run = 0;
                    }
                }
                continue;
            }

            c = &conns[evs[i].data.u32];
            if (c->state == ST_CONNECTING) {
                conn_connected(c);
            } else if (c->state != ST_DEAD) {
                conn_read(c);
            }
        }

        now = now_us(CLOCK_MONOTONIC);
        if (!setup_done && pending > 0 && now - last_check > 100000) {
            last_check = now;
            for (i = 0; i < launched; i++) {
                c = &conns[i];
                if (c->state >= ST_CONNECTING && c->state <= ST_HEADERS
                    && now - c->start_us > SETUP_TIMEOUT_US)
                {
                    conn_close(c, E_TIMEOUT, "no response headers in 30 s");
                }
            }
        }
    }

    return 0;                   /* exit closes the connections */

usage:

    fprintf(stderr, "usage: sse-client -p PORT -u PATH -n CLIENTS "
            "[-H 127.0.0.1] [-c CONNECT_RATE_PER_SEC] [-r REPORT_FILE]\n");
    return 2;
}
