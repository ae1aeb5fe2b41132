/*
 * Socket.IO fan-out load generator for bench/fanout.py: one thread, epoll, raw WebSocket.
 *
 * It opens N receiver connections (Engine.IO v4 over WebSocket, namespace given), joins each to
 * the benchmark room with an acked "bench:join", then opens one publisher connection that emits
 * "bench:publish" {"t": <monotonic ns>} at each requested rate for a fixed duration. Receivers
 * parse every "bench:msg" frame and record latency = now - t in a histogram. Written in C so the
 * load side is never the bottleneck: it reports its own CPU use per step to prove it.
 *
 * usage: loadgen HOST PORT NSP AUTH_JSON N DURATION_S RATE1 [RATE2 ...]   (rates: messages/s)
 * output: one JSON line per rate step on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 262144
#define HIST_US 60000000 /* 60 s at 1 us resolution would be big; use 10 us buckets */
#define BUCKET_US 10
#define NBUCKETS (HIST_US / BUCKET_US)

typedef struct {
  int fd;
  int state; /* 0 http, 1 ws open wait, 2 connected wait, 3 join wait, 4 ready */
  size_t len;
  char *buf;
} conn_t;

static const char *g_host, *g_nsp, *g_auth;
static int g_port;
static uint32_t *g_hist;
static uint64_t g_received, g_lat_max_ns;
/* LOADGEN_SPIN=1 polls epoll without sleeping. Off by default: on the 2-vCPU machine measured
 * it made every server slower and noisier (it competes with softirq work for the CPU). */
static int g_spin = 0;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *msg) {
  fprintf(stderr, "loadgen: %s: %s\n", msg, strerror(errno));
  exit(1);
}

static void write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      die("write");
    }
    data += n;
    len -= (size_t)n;
  }
}

static uint64_t g_closed; /* connections the server closed during the run */

/* A masked (zero key) client text frame; a connection the server closed is skipped. */
static void send_text(int fd, const char *text, size_t len) {
  if (fd < 0) return;
  char hdr[14];
  size_t h = 0;
  hdr[h++] = (char)0x81;
  if (len < 126) {
    hdr[h++] = (char)(0x80 | len);
  } else {
    hdr[h++] = (char)(0x80 | 126);
    hdr[h++] = (char)(len >> 8);
    hdr[h++] = (char)(len & 0xff);
  }
  memset(hdr + h, 0, 4);
  h += 4;
  char out[4096];
  memcpy(out, hdr, h);
  memcpy(out + h, text, len);
  write_all(fd, out, h + len);
}

static int open_conn(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)g_port);
  inet_pton(AF_INET, g_host, &a.sin_addr);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s:%d\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   g_host, g_port);
  write_all(fd, req, (size_t)n);
  return fd;
}

static void on_text(conn_t *c, const char *p, size_t len, int *join_acks) {
  if (len == 1 && p[0] == '2') { /* engine ping */
    send_text(c->fd, "3", 1);
    return;
  }
  if (c->state == 1 && len > 0 && p[0] == '0') {
    char msg[2048];
    int n = snprintf(msg, sizeof msg, "40%s,%s", g_nsp, g_auth);
    send_text(c->fd, msg, (size_t)n);
    c->state = 2;
    return;
  }
  if (c->state == 2 && len > 2 && p[0] == '4' && p[1] == '0') {
    char msg[256];
    int n = snprintf(msg, sizeof msg, "42%s,1[\"bench:join\",{}]", g_nsp);
    send_text(c->fd, msg, (size_t)n);
    c->state = 3;
    return;
  }
  if (c->state == 2 && len > 2 && p[0] == '4' && p[1] == '4') {
    fprintf(stderr, "loadgen: connect_error %.*s\n", (int)len, p);
    exit(1);
  }
  if (c->state == 3 && len > 2 && p[0] == '4' && p[1] == '3') {
    c->state = 4;
    (*join_acks)++;
    return;
  }
  if (c->state == 4 && len > 2 && p[0] == '4' && p[1] == '2') {
    const char *t = memmem(p, len, "\"t\":", 4);
    if (!t) return;
    uint64_t sent = strtoull(t + 4, NULL, 10);
    uint64_t lat = now_ns() - sent;
    uint64_t b = lat / 1000 / BUCKET_US;
    if (b >= NBUCKETS) b = NBUCKETS - 1;
    g_hist[b]++;
    if (lat > g_lat_max_ns) g_lat_max_ns = lat;
    g_received++;
  }
}

/* Parse everything buffered; returns -1 if the connection closed. */
static int pump(conn_t *c, int *join_acks) {
  for (;;) {
    ssize_t n = read(c->fd, c->buf + c->len, BUF - c->len);
    if (n == 0) return -1;
    if (n < 0) {
      if (errno == EAGAIN) break;
      if (errno == EINTR) continue;
      return -1;
    }
    c->len += (size_t)n;
    size_t off = 0;
    if (c->state == 0) {
      char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
      if (!end) continue;
      if (memcmp(c->buf, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "loadgen: upgrade refused: %.*s\n", (int)(end - c->buf), c->buf);
        exit(1);
      }
      off = (size_t)(end - c->buf) + 4;
      c->state = 1;
    }
    for (;;) {
      if (c->len - off < 2) break;
      unsigned char *h = (unsigned char *)c->buf + off;
      uint64_t plen = h[1] & 0x7f;
      size_t hl = 2;
      if (plen == 126) {
        if (c->len - off < 4) break;
        plen = ((uint64_t)h[2] << 8) | h[3];
        hl = 4;
      } else if (plen == 127) {
        if (c->len - off < 10) break;
        plen = 0;
        for (int i = 0; i < 8; i++) plen = (plen << 8) | h[2 + i];
        hl = 10;
      }
      if (c->len - off < hl + plen) break;
      int opcode = h[0] & 0x0f;
      if (opcode == 1) on_text(c, (const char *)h + hl, (size_t)plen, join_acks);
      if (opcode == 8) return -1;
      off += hl + (size_t)plen;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    if (c->len == BUF) {
      fprintf(stderr, "loadgen: frame too large\n");
      exit(1);
    }
  }
  return 0;
}

static uint64_t percentile(double q, uint64_t total) {
  uint64_t want = (uint64_t)(q * (double)total), seen = 0;
  for (uint64_t i = 0; i < NBUCKETS; i++) {
    seen += g_hist[i];
    if (seen > want) return i * BUCKET_US;
  }
  return (uint64_t)NBUCKETS * BUCKET_US;
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: loadgen HOST PORT NSP AUTH_JSON N DURATION_S RATE...\n");
    return 2;
  }
  g_host = argv[1];
  g_port = atoi(argv[2]);
  g_nsp = argv[3];
  g_auth = argv[4];
  int n = atoi(argv[5]);
  double duration = atof(argv[6]);
  g_hist = calloc(NBUCKETS, sizeof *g_hist);
  if (getenv("LOADGEN_SPIN") && strcmp(getenv("LOADGEN_SPIN"), "1") == 0) g_spin = 1;
  conn_t *conns = calloc((size_t)n + 1, sizeof *conns);
  int ep = epoll_create1(0);
  int join_acks = 0;
  /* connect receivers in batches so the accept queue never overflows */
  for (int i = 0; i <= n; i++) {
    conns[i].fd = open_conn();
    conns[i].buf = malloc(BUF);
    fcntl(conns[i].fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    if (i % 100 == 99 || i == n) {
      uint64_t deadline = now_ns() + 30ull * 1000000000ull;
      while (join_acks < i + 1 && now_ns() < deadline) {
        struct epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, 100);
        for (int j = 0; j < k; j++)
          if (pump(evs[j].data.ptr, &join_acks) < 0) die("setup connection closed");
      }
      if (join_acks < i + 1) {
        fprintf(stderr, "loadgen: only %d of %d joined\n", join_acks, i + 1);
        return 1;
      }
    }
  }
  conn_t *pub = &conns[n]; /* the last connection publishes (it is in the room too) */
  fprintf(stderr, "loadgen: %d receivers ready\n", n);
  struct epoll_event evs[1024];
  char msg[256];
  for (int r = 7; r < argc; r++) {
    double rate = atof(argv[r]);
    memset(g_hist, 0, NBUCKETS * sizeof *g_hist);
    g_received = 0;
    g_lat_max_ns = 0;
    uint64_t interval = (uint64_t)(1e9 / rate);
    uint64_t total = (uint64_t)(rate * duration);
    uint64_t start = now_ns(), sent = 0;
    double cpu0 = cpu_seconds();
    uint64_t expected_receivers = (uint64_t)n + 1;
    uint64_t end_wait = 0;
    for (;;) {
      uint64_t t = now_ns();
      while (sent < total && t >= start + sent * interval) {
        int len = snprintf(msg, sizeof msg, "42%s,[\"bench:publish\",{\"t\":%llu}]", g_nsp,
                           (unsigned long long)t);
        send_text(pub->fd, msg, (size_t)len);
        sent++;
      }
      if (sent == total && end_wait == 0) end_wait = t + 3000000000ull; /* stragglers: 3 s */
      if (end_wait && (t >= end_wait || g_received >= total * expected_receivers)) break;
      uint64_t next = sent < total ? start + sent * interval : t + 1000000;
      int timeout_ms = next > t ? (int)((next - t) / 1000000) : 0;
      int k = epoll_wait(ep, evs, 1024, g_spin ? 0 : timeout_ms);
      for (int j = 0; j < k; j++)
        if (pump(evs[j].data.ptr, &join_acks) < 0) {
          conn_t *gone = evs[j].data.ptr;
          fprintf(stderr, "loadgen: connection closed by server during the run\n");
          epoll_ctl(ep, EPOLL_CTL_DEL, gone->fd, NULL);
          close(gone->fd);
          gone->fd = -1;
          g_closed++;
        }
    }
    double busy = (cpu_seconds() - cpu0);
    double wall = (double)(now_ns() - start) / 1e9;
    uint64_t expected = total * expected_receivers;
    printf("{\"rate_msgs\":%.0f,\"receivers\":%llu,\"offered_deliveries_per_s\":%.0f,"
           "\"sent\":%llu,\"expected\":%llu,\"delivered\":%llu,\"loss\":%.6f,"
           "\"delivered_per_s\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,"
           "\"loadgen_cpu\":%.2f,\"closed_by_server\":%llu}\n",
           rate, (unsigned long long)expected_receivers, rate * (double)expected_receivers,
           (unsigned long long)sent, (unsigned long long)expected, (unsigned long long)g_received,
           expected ? 1.0 - (double)g_received / (double)expected : 0.0,
           (double)g_received / duration, percentile(0.50, g_received) / 1000.0,
           percentile(0.99, g_received) / 1000.0, g_lat_max_ns / 1e6, busy / wall,
           (unsigned long long)g_closed);
    fflush(stdout);
    /* past saturation there is nothing more to learn; stop rather than queue minutes of load */
    if (pub->fd < 0 ||
        (expected && ((double)g_received / (double)expected < 0.9 ||
                      percentile(0.99, g_received) > 2000000)))
      break;
    /* drain anything still in flight before the next step */
    uint64_t quiet = now_ns() + 500000000ull;
    while (now_ns() < quiet) {
      int k = epoll_wait(ep, evs, 1024, 50);
      for (int j = 0; j < k; j++) pump(evs[j].data.ptr, &join_acks);
    }
  }
  return 0;
}
