/*
 * publisher: posts records at a fixed rate over one keepalive HTTP/1.1
 * connection, for the SSE fan-out benchmark.  The same program publishes
 * to the gateway (a kafka_produce location) and to Nchan (an
 * nchan_publisher location), so both get the same messages.
 *
 *   publisher -p PORT -u PATH -r RATE -d SECONDS [-s SIZE] [-H HOST]
 *
 * Every body is SIZE bytes (default 100) of JSON that starts with the send
 * time, {"t":<microseconds since the epoch>,"p":"xxx..."}; the SSE client
 * (sse-client.c) takes its latency from it.  Sends are scheduled at
 * start + i / RATE; a late send goes out at once, and sending stops after
 * SECONDS, so a slow server lowers the rate achieved, which is printed:
 *
 *   sent=N ok=M errors=E secs=S rate=R
 *
 * A 2xx answer counts as ok.  Responses are read with Content-Length or
 * chunked encoding.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>


static char    rbuf[65536];
static size_t  rlen;


static uint64_t
now_us(int clock)
{
    struct timespec  ts;

    clock_gettime(clock, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static int
dial(const char *host, int port)
{
    int                 fd, one;
    struct sockaddr_in  sin;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1) {
        return -1;
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) port);
    inet_pton(AF_INET, host, &sin.sin_addr);

    if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == -1) {
        close(fd);
        return -1;
    }

    one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    rlen = 0;

    return fd;
}


/* more bytes into rbuf; 0 on EOF or error */

static int
fill(int fd)
{
    ssize_t  n;

    if (rlen == sizeof(rbuf)) {
        return 0;
    }

    n = read(fd, rbuf + rlen, sizeof(rbuf) - rlen);
    if (n <= 0) {
        return 0;
    }

    rlen += (size_t) n;

    return 1;
}


static void
consume(size_t n)
{
    memmove(rbuf, rbuf + n, rlen - n);
    rlen -= n;
}


/* one response; returns its status, or -1 if the connection broke */

static int
read_response(int fd)
{
    int      status;
    char    *end, *p, *eol;
    size_t   hlen, len, clen;
    int      chunked;

    for ( ;; ) {
        end = memmem(rbuf, rlen, "\r\n\r\n", 4);
        if (end) {
            break;
        }

        if (!fill(fd)) {
            return -1;
        }
    }

    hlen = (size_t) (end - rbuf) + 4;
    status = (rlen > 12) ? atoi(rbuf + 9) : -1;

    clen = 0;
    chunked = 0;

    for (p = rbuf; p < end; p = eol + 2) {
        eol = memmem(p, (size_t) (end + 2 - p), "\r\n", 2);
        if (eol == NULL) {
            break;
        }

        if (strncasecmp(p, "Content-Length:", 15) == 0) {
            clen = (size_t) atol(p + 15);

        } else if (strncasecmp(p, "Transfer-Encoding:", 18) == 0
                   && memmem(p, (size_t) (eol - p), "chunked", 7))
        {
            chunked = 1;
        }
    }

    consume(hlen);

    if (!chunked) {
        while (rlen < clen) {
            if (!fill(fd)) {
                return -1;
            }
        }

        consume(clen);

        return status;
    }

    for ( ;; ) {
        while ((eol = memmem(rbuf, rlen, "\r\n", 2)) == NULL) {
            if (!fill(fd)) {
                return -1;
            }
        }

        len = strtoul(rbuf, NULL, 16);
        consume((size_t) (eol - rbuf) + 2);

        while (rlen < len + 2) {
            if (!fill(fd)) {
                return -1;
            }
        }

        consume(len + 2);

        if (len == 0) {
            return status;
        }
    }
}


int
main(int argc, char **argv)
{
    int          opt, fd, port, status;
    char        *req, *body;
    size_t       size, hlen, n;
    double       rate, seconds;
    uint64_t     start, next, deadline, i, sent, ok, errors;
    const char  *host, *path;
    char         head[512];

    host = "127.0.0.1";
    path = NULL;
    port = 0;
    rate = 10;
    seconds = 5;
    size = 100;

    while ((opt = getopt(argc, argv, "p:u:r:d:s:H:")) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'u':
            path = optarg;
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 'd':
            seconds = atof(optarg);
            break;
        case 's':
            size = (size_t) atol(optarg);
            break;
        case 'H':
            host = optarg;
            break;
        default:
            fprintf(stderr, "usage: publisher -p PORT -u PATH -r RATE "
                            "-d SECONDS [-s SIZE] [-H HOST]\n");
            return 2;
        }
    }

    if (port == 0 || path == NULL || rate <= 0 || size < 40) {
        fprintf(stderr, "publisher: -p and -u are required, -r > 0, "
                        "-s >= 40\n");
        return 2;
    }

    hlen = (size_t) snprintf(head, sizeof(head),
                             "POST %s HTTP/1.1\r\nHost: localhost\r\n"
                             "Content-Type: text/plain\r\n"
                             "Content-Length: %zu\r\n\r\n", path, size);

    req = malloc(hlen + size + 1);
    if (req == NULL) {
        return 1;
    }

    memcpy(req, head, hlen);
    body = req + hlen;

    fd = dial(host, port);
    if (fd == -1) {
        fprintf(stderr, "publisher: connect: %s\n", strerror(errno));
        return 1;
    }

    sent = 0;
    ok = 0;
    errors = 0;
    start = now_us(CLOCK_MONOTONIC);

    deadline = start + (uint64_t) (seconds * 1e6);

    for (i = 0; ; i++) {
        next = start + (uint64_t) ((double) i * 1e6 / rate);

        if (next >= deadline || now_us(CLOCK_MONOTONIC) >= deadline) {
            break;
        }

        while (now_us(CLOCK_MONOTONIC) < next) {
            n = next - now_us(CLOCK_MONOTONIC);
            usleep(n > 1000 ? 1000 : (useconds_t) n);
        }

        n = (size_t) snprintf(body, size + 1, "{\"t\":%llu,\"p\":\"",
                              (unsigned long long) now_us(CLOCK_REALTIME));
        memset(body + n, 'x', size - n - 2);
        memcpy(body + size - 2, "\"}", 2);

        if (write(fd, req, hlen + size) != (ssize_t) (hlen + size)) {
            status = -1;

        } else {
            status = read_response(fd);
        }

        sent++;

        if (status >= 200 && status < 300) {
            ok++;
            continue;
        }

        errors++;

        if (status == -1) {
            close(fd);
            fd = dial(host, port);
            if (fd == -1) {
                fprintf(stderr, "publisher: reconnect: %s\n",
                        strerror(errno));
                return 1;
            }
        }
    }

    seconds = (double) (now_us(CLOCK_MONOTONIC) - start) / 1e6;

    printf("sent=%llu ok=%llu errors=%llu secs=%.3f rate=%.1f\n",
           (unsigned long long) sent, (unsigned long long) ok,
           (unsigned long long) errors, seconds, ok / seconds);

    close(fd);
    free(req);

    return errors ? 1 : 0;
}
