/* apiload: a bounded HTTP/1.1 load generator over a unix socket.
 *
 *   apiload SOCKET PATH CLIENTS SECONDS
 *
 * CLIENTS threads each keep one connection open (keep-alive; reconnecting
 * when the server closes it) and send "GET PATH" back to back for SECONDS.
 * Prints one JSON object: requests, errors (non-200 or broken replies),
 * reconnects, rps, p50_ms, p99_ms, max_ms. */

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define MAX_SAMPLES (1 << 20)

static const char *sock_path;
static char request[512];
static size_t request_len;
static int64_t end_ns;

struct client {
    pthread_t thread;
    double *lat_ms;
    long n, errors, reconnects;
};

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
connect_unix(void)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = 5 };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    if (fd < 0) {
        return -1;
    }
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sock_path);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *) &sun, sizeof sun) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends the request and reads one complete response.  Returns the HTTP
 * status, or -1 if the connection broke; '*close_after' is set when the
 * server will close the connection. */
static int
one_request(int fd, int *close_after)
{
    static __thread char buf[1 << 20];
    size_t have = 0;
    size_t off = 0;

    while (off < request_len) {
        ssize_t n = send(fd, request + off, request_len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            return -1;
        }
        off += n;
    }

    char *body = NULL;
    long content_length = -1;
    int status = -1;
    *close_after = 0;
    for (;;) {
        if (have == sizeof buf - 1) {
            return -1;
        }
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (n <= 0) {
            return -1;
        }
        have += n;
        buf[have] = '\0';
        if (!body) {
            char *hdr_end = strstr(buf, "\r\n\r\n");
            if (!hdr_end) {
                continue;
            }
            body = hdr_end + 4;
            if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
                return -1;
            }
            for (char *line = strstr(buf, "\r\n"); line && line < hdr_end;
                 line = strstr(line + 2, "\r\n")) {
                if (!strncasecmp(line + 2, "Content-Length:", 15)) {
                    content_length = atol(line + 17);
                } else if (!strncasecmp(line + 2, "Connection: close", 17)) {
                    *close_after = 1;
                }
            }
            if (content_length < 0) {
                /* Chunked or unframed replies are not expected here. */
                return -1;
            }
        }
        if ((long) (buf + have - body) >= content_length) {
            return status;
        }
    }
}

static void *
client_main(void *arg)
{
    struct client *c = arg;
    int fd = -1;

    while (now_ns() < end_ns && c->n < MAX_SAMPLES) {
        if (fd < 0) {
            fd = connect_unix();
            if (fd < 0) {
                c->errors++;
                usleep(1000);
                continue;
            }
            c->reconnects++;
        }
        int close_after;
        int64_t t0 = now_ns();
        int status = one_request(fd, &close_after);
        int64_t t1 = now_ns();
        if (status == 200) {
            c->lat_ms[c->n++] = (t1 - t0) / 1e6;
        } else {
            c->errors++;
        }
        if (status < 0 || close_after) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

int
main(int argc, char *argv[])
{
    if (argc != 5) {
        fprintf(stderr, "usage: apiload SOCKET PATH CLIENTS SECONDS\n");
        return 2;
    }
    sock_path = argv[1];
    int n_clients = atoi(argv[3]);
    double seconds = atof(argv[4]);
    if (n_clients < 1 || n_clients > MAX_CLIENTS || seconds <= 0
        || seconds > 60) {
        fprintf(stderr, "apiload: CLIENTS 1..%d, SECONDS 0..60\n",
                MAX_CLIENTS);
        return 2;
    }
    request_len
        = snprintf(request, sizeof request,
                   "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", argv[2]);

    struct client clients[MAX_CLIENTS];
    memset(clients, 0, sizeof clients);
    int64_t start = now_ns();
    end_ns = start + (int64_t) (seconds * 1e9);
    for (int i = 0; i < n_clients; i++) {
        clients[i].lat_ms = malloc(MAX_SAMPLES * sizeof(double));
        if (!clients[i].lat_ms
            || pthread_create(&clients[i].thread, NULL, client_main,
                              &clients[i])) {
            perror("apiload");
            return 1;
        }
    }
    long total = 0, errors = 0, reconnects = 0;
    for (int i = 0; i < n_clients; i++) {
        pthread_join(clients[i].thread, NULL);
        total += clients[i].n;
        errors += clients[i].errors;
        reconnects += clients[i].reconnects;
    }
    double elapsed = (now_ns() - start) / 1e9;

    double *all = malloc((total ? total : 1) * sizeof *all);
    long k = 0;
    for (int i = 0; i < n_clients; i++) {
        memcpy(all + k, clients[i].lat_ms, clients[i].n * sizeof *all);
        k += clients[i].n;
        free(clients[i].lat_ms);
    }
    qsort(all, total, sizeof *all, cmp_double);
    double p50 = total ? all[total / 2] : 0;
    double p99 = total ? all[(long) (total * 0.99)] : 0;
    double max = total ? all[total - 1] : 0;
    printf("{\"path\": \"%s\", \"clients\": %d, \"seconds\": %.3f, "
           "\"requests\": %ld, \"errors\": %ld, \"connections\": %ld, "
           "\"rps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
           "\"max_ms\": %.3f}\n",
           argv[2], n_clients, elapsed, total, errors, reconnects,
           total / elapsed, p50, p99, max);
    free(all);
    return 0;
}
