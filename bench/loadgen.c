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
#include "wsclient.h"

#include <fcntl.h>
#include <sys/epoll.h>

#define BUF 262144
#define HIST_US 60000000 /* 60 s at 1 us resolution would be big; use 10 us buckets */
#define BUCKET_US 10
#define NBUCKETS (HIST_US / BUCKET_US)

/* ws_conn_t state: 0 http, 1 ws open wait, 2 connected wait, 3 join wait, 4 ready */
typedef ws_conn_t conn_t;

static const char *g_host, *g_nsp, *g_auth;
static int g_port;
static uint32_t *g_hist;
static uint64_t g_received, g_lat_max_ns;
/* LOADGEN_SPIN=1 polls epoll without sleeping. Off by default: on the 2-vCPU machine measured
 * it made every server slower and noisier (it competes with softirq work for the CPU). */
static int g_spin = 0;

static uint64_t g_closed; /* connections the server closed during the run */

static int g_join_acks; /* receivers whose bench:join was acknowledged */

static void on_text(void *owner, const char *p, size_t len) {
  conn_t *c = owner;
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
    g_join_acks++;
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
  ws_program = "loadgen";
  /* connect receivers in batches so the accept queue never overflows */
  for (int i = 0; i <= n; i++) {
    conns[i].fd = ws_open(g_host, g_port);
    conns[i].cap = BUF;
    conns[i].buf = malloc(BUF);
    fcntl(conns[i].fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    if (i % 100 == 99 || i == n) {
      uint64_t deadline = now_ns() + 30ull * 1000000000ull;
      while (g_join_acks < i + 1 && now_ns() < deadline) {
        struct epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, 100);
        for (int j = 0; j < k; j++)
          if (ws_pump(evs[j].data.ptr, on_text, evs[j].data.ptr) < 0) die("setup connection closed");
      }
      if (g_join_acks < i + 1) {
        fprintf(stderr, "loadgen: only %d of %d joined\n", g_join_acks, i + 1);
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
        if (ws_pump(evs[j].data.ptr, on_text, evs[j].data.ptr) < 0) {
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
      for (int j = 0; j < k; j++) ws_pump(evs[j].data.ptr, on_text, evs[j].data.ptr);
    }
  }
  return 0;
}
