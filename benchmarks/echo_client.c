/* Load client for the TCP echo benchmark (b_echo.py): N connections, each sends a
 * fixed-size message and waits for the whole echo before sending the next (closed loop).
 * One thread, level-triggered epoll, non-blocking sockets: a few microseconds of CPU per
 * request, so the server under test is the bottleneck.
 *
 *   echo_client HOST PORT CONNS SIZE WARM_S DURATION_S
 *
 * Prints "START" when the measured window begins and "END <requests> <seconds> <total>"
 * when it ends (b_echo.py samples the server's CPU time at those two lines; <total> also
 * counts the warm-up requests), then exits.
 * Any error prints "ERROR <what>" and exits 1.  Build: cc -O2 -o echo_client echo_client.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn { int fd; int got; };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    printf("ERROR %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s HOST PORT CONNS SIZE WARM_S DURATION_S\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]), nconns = atoi(argv[3]), size = atoi(argv[4]);
    double warm = atof(argv[5]), dur = atof(argv[6]);
    char *msg = malloc(size), *buf = malloc(65536);
    memset(msg, 'x', size);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) { errno = EINVAL; die("address"); }
    int ep = epoll_create1(0);
    struct conn *cs = calloc(nconns, sizeof *cs);
    for (int i = 0; i < nconns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl");
        cs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }
    for (int i = 0; i < nconns; i++)
        if (write(cs[i].fd, msg, size) != size) die("write");
    long count = 0, total = 0;
    int measuring = 0;
    double t0 = now(), tstart = 0, tend = t0 + warm + dur;
    struct epoll_event evs[256];
    for (;;) {
        double t = now();
        if (!measuring && t - t0 >= warm) {
            measuring = 1;
            total += count;
            count = 0;
            tstart = t;
            printf("START\n");
            fflush(stdout);
        }
        if (t >= tend) break;
        int n = epoll_wait(ep, evs, 256, 100);
        if (n < 0) { if (errno == EINTR) continue; die("epoll_wait"); }
        for (int k = 0; k < n; k++) {
            struct conn *c = &cs[evs[k].data.u32];
            for (;;) {
                ssize_t r = read(c->fd, buf, 65536);
                if (r < 0) { if (errno == EAGAIN) break; die("read"); }
                if (r == 0) { errno = ECONNRESET; die("read: server closed"); }
                c->got += r;
                if (c->got >= size) {
                    c->got -= size;
                    count++;
                    if (write(c->fd, msg, size) != size) die("write");
                }
                if (r < 65536) break;
            }
        }
    }
    double el = now() - tstart;
    printf("END %ld %.6f %ld\n", count, el, total + count);
    fflush(stdout);
    return 0;
}
