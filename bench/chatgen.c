/*
 * Chat load generator for bench/chat.py: one thread, epoll, raw WebSocket (Engine.IO v4 /
 * Socket.IO v5), written in C so the load side is never the bottleneck (it reports its own CPU).
 *
 * Every member of SPEC_FILE (lines "<token> <roomId>") connects with auth {"token": ...}, joins
 * its room with an acked "chat:join", then members send "chat:message" round-robin so that the
 * whole group sends RATE messages/s, evenly spread (each member every N/RATE seconds). The text
 * carries the send time; each "chat:new_message" a member receives gives one delivery latency,
 * and its room sequence is checked against the previous one that member saw (reordered/gaps).
 *
 * usage: chatgen HOST PORT NSP SPEC_FILE ROOM_SIZE DURATION_S RATE1 [RATE2 ...]
 * output: one JSON line per rate step on stdout.
 */
#include "wsclient.h"

#include <fcntl.h>
#include <sys/epoll.h>

#define BUF 1048576
#define BUCKET_US 10
#define NBUCKETS (60000000 / BUCKET_US) /* 60 s at 10 us */
#define ACK_SLOTS 4096

typedef struct {
  ws_conn_t ws; /* state: 0 http, 1 ws open wait, 2 connected wait, 3 join wait, 4 ready */
  char token[1024];
  char room[32];
  long last_seq;
  uint32_t next_ack;
  uint64_t ack_sent[ACK_SLOTS];
} conn_t;

static const char *g_host, *g_nsp;
static int g_port;
static uint32_t *g_deliver_hist, *g_ack_hist;
static uint64_t g_received, g_acked, g_refused, g_reordered, g_closed, g_lat_max_ns;

static void record(uint32_t *hist, uint64_t lat) {
  uint64_t b = lat / 1000 / BUCKET_US;
  if (b >= NBUCKETS) b = NBUCKETS - 1;
  hist[b]++;
}

static int g_joined; /* members whose chat:join was acknowledged */

static void on_text(void *owner, const char *p, size_t len) {
  conn_t *c = owner;
  size_t nsp = strlen(g_nsp);
  if (len == 1 && p[0] == '2') { /* engine ping */
    send_text(c->ws.fd, "3", 1);
    return;
  }
  if (c->ws.state == 1 && len > 0 && p[0] == '0') {
    char msg[2048];
    int n = snprintf(msg, sizeof msg, "40%s,{\"token\":\"%s\"}", g_nsp, c->token);
    send_text(c->ws.fd, msg, (size_t)n);
    c->ws.state = 2;
    return;
  }
  if (c->ws.state == 2 && len > 2 && p[0] == '4' && p[1] == '0') {
    char msg[256];
    int n = snprintf(msg, sizeof msg, "42%s,1[\"chat:join\",{\"roomId\":\"%s\"}]", g_nsp, c->room);
    send_text(c->ws.fd, msg, (size_t)n);
    c->ws.state = 3;
    return;
  }
  if (c->ws.state == 2 && len > 2 && p[0] == '4' && p[1] == '4') {
    fprintf(stderr, "chatgen: connect_error %.*s\n", (int)len, p);
    exit(1);
  }
  if (len < 3 + nsp || p[0] != '4') return;
  if (p[1] == '3') { /* ack: 43<nsp>,<id>[...] */
    uint32_t id = (uint32_t)strtoul(p + 3 + nsp, NULL, 10);
    int ok = memmem(p, len, "\"ok\":true", 9) != NULL;
    if (c->ws.state == 3 && id == 1) {
      if (!ok) {
        fprintf(stderr, "chatgen: join refused %.*s\n", (int)len, p);
        exit(1);
      }
      c->ws.state = 4;
      g_joined++;
      return;
    }
    uint64_t sent = c->ack_sent[id % ACK_SLOTS];
    if (!sent) return;
    c->ack_sent[id % ACK_SLOTS] = 0;
    if (ok) {
      g_acked++;
      record(g_ack_hist, now_ns() - sent);
    } else {
      g_refused++;
      if (g_refused < 5) fprintf(stderr, "chatgen: refused %.*s\n", (int)(len > 300 ? 300 : len), p);
    }
    return;
  }
  if (p[1] == '2' && memmem(p, len < 40 ? len : 40, "chat:new_message", 16)) {
    const char *t = memmem(p, len, "\"text\":\"t", 9);
    const char *s = memmem(p, len, "\"seq\":", 6);
    if (!t || !s) return;
    uint64_t lat = now_ns() - strtoull(t + 9, NULL, 10);
    record(g_deliver_hist, lat);
    if (lat > g_lat_max_ns) g_lat_max_ns = lat;
    g_received++;
    long seq = strtol(s + 6, NULL, 10);
    if (c->last_seq && seq != c->last_seq + 1) g_reordered++;
    c->last_seq = seq;
  }
}

static double percentile(const uint32_t *hist, double q, uint64_t total) {
  uint64_t want = (uint64_t)(q * (double)total), seen = 0;
  for (uint64_t i = 0; i < NBUCKETS; i++) {
    seen += hist[i];
    if (seen > want) return (double)(i * BUCKET_US) / 1000.0;
  }
  return (double)NBUCKETS * BUCKET_US / 1000.0;
}

static void poll_once(int ep, int timeout_ms) {
  struct epoll_event evs[1024];
  int k = epoll_wait(ep, evs, 1024, timeout_ms);
  for (int j = 0; j < k; j++) {
    conn_t *c = evs[j].data.ptr;
    if (ws_pump(&c->ws, on_text, c) < 0) {
      fprintf(stderr, "chatgen: connection closed by server\n");
      epoll_ctl(ep, EPOLL_CTL_DEL, c->ws.fd, NULL);
      close(c->ws.fd);
      c->ws.fd = -1;
      g_closed++;
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: chatgen HOST PORT NSP SPEC_FILE ROOM_SIZE DURATION_S RATE...\n");
    return 2;
  }
  g_host = argv[1];
  g_port = atoi(argv[2]);
  g_nsp = argv[3];
  FILE *spec = fopen(argv[4], "r");
  if (!spec) die("spec");
  int room_size = atoi(argv[5]);
  double duration = atof(argv[6]);
  int cap = 1024, n = 0;
  conn_t *conns = calloc((size_t)cap, sizeof *conns);
  char token[1024], room[32];
  while (fscanf(spec, "%1023s %31s", token, room) == 2) {
    if (n == cap) {
      cap *= 2;
      conns = realloc(conns, (size_t)cap * sizeof *conns);
      memset(conns + n, 0, (size_t)(cap - n) * sizeof *conns);
    }
    strcpy(conns[n].token, token);
    strcpy(conns[n].room, room);
    conns[n].next_ack = 2;
    n++;
  }
  fclose(spec);
  g_deliver_hist = calloc(NBUCKETS, sizeof *g_deliver_hist);
  g_ack_hist = calloc(NBUCKETS, sizeof *g_ack_hist);
  int ep = epoll_create1(0);
  ws_program = "chatgen";
  for (int i = 0; i < n; i++) { /* connect in batches so the accept queue never overflows */
    conns[i].ws.fd = ws_open(g_host, g_port);
    conns[i].ws.cap = BUF;
    conns[i].ws.buf = malloc(BUF);
    fcntl(conns[i].ws.fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].ws.fd, &ev);
    if (i % 100 == 99 || i == n - 1) {
      uint64_t deadline = now_ns() + 60ull * 1000000000ull;
      while (g_joined < i + 1 && now_ns() < deadline) poll_once(ep, 100);
      if (g_joined < i + 1) {
        fprintf(stderr, "chatgen: only %d of %d joined\n", g_joined, i + 1);
        return 1;
      }
    }
  }
  printf("{\"joined\":%d}\n", n); /* the steps start now */
  fflush(stdout);
  char msg[512];
  uint64_t serial = 0;
  for (int r = 7; r < argc; r++) {
    double rate = atof(argv[r]);
    memset(g_deliver_hist, 0, NBUCKETS * sizeof *g_deliver_hist);
    memset(g_ack_hist, 0, NBUCKETS * sizeof *g_ack_hist);
    g_received = g_acked = g_refused = g_reordered = g_lat_max_ns = 0;
    uint64_t interval = (uint64_t)(1e9 / rate);
    uint64_t total = (uint64_t)(rate * duration);
    uint64_t start = now_ns(), sent = 0, end_wait = 0;
    double cpu0 = cpu_seconds();
    for (;;) {
      uint64_t t = now_ns();
      while (sent < total && t >= start + sent * interval) {
        conn_t *c = &conns[(serial++) % (uint64_t)n];
        uint32_t id = c->next_ack++;
        if (c->ack_sent[id % ACK_SLOTS]) g_refused++; /* an ack 4096 sends late: count as lost */
        c->ack_sent[id % ACK_SLOTS] = t;
        int len = snprintf(msg, sizeof msg,
                           "42%s,%u[\"chat:message\",{\"roomId\":\"%s\",\"message\":\"t%llu m\","
                           "\"client_id\":\"b%llu\"}]",
                           g_nsp, id, c->room, (unsigned long long)t, (unsigned long long)serial);
        send_text(c->ws.fd, msg, (size_t)len);
        sent++;
      }
      if (sent == total && end_wait == 0) end_wait = t + 5000000000ull; /* stragglers: 5 s */
      if (end_wait && (t >= end_wait || (g_acked + g_refused >= total &&
                                         g_received >= g_acked * (uint64_t)room_size)))
        break;
      uint64_t next = sent < total ? start + sent * interval : t + 1000000;
      /* round the wait up to whole milliseconds: a zero timeout would spin the core, and a send
       * that leaves up to 1 ms late is still timed from when it really left */
      int timeout_ms = next > t ? (int)((next - t + 999999) / 1000000) : 0;
      poll_once(ep, timeout_ms);
    }
    double busy = cpu_seconds() - cpu0;
    double wall = (double)(now_ns() - start) / 1e9;
    uint64_t expected = g_acked * (uint64_t)room_size;
    printf("{\"rate_msgs\":%.0f,\"sent\":%llu,\"acked\":%llu,\"refused\":%llu,"
           "\"sustained_msgs_per_s\":%.0f,\"expected_deliveries\":%llu,\"delivered\":%llu,"
           "\"lost\":%lld,\"unacked\":%llu,\"reordered\":%llu,\"deliver_p50_ms\":%.2f,\"deliver_p99_ms\":%.2f,"
           "\"deliver_max_ms\":%.2f,\"ack_p50_ms\":%.2f,\"ack_p99_ms\":%.2f,"
           "\"chatgen_cpu\":%.2f,\"closed_by_server\":%llu}\n",
           rate, (unsigned long long)sent, (unsigned long long)g_acked,
           (unsigned long long)g_refused, (double)g_acked / duration,
           (unsigned long long)expected, (unsigned long long)g_received,
           /* deliveries of messages whose ack is still on its way count as received, so a
            * saturated step shows unacked sends rather than a negative loss */
           (long long)(expected > g_received ? expected - g_received : 0),
           (unsigned long long)(sent - g_acked - g_refused), (unsigned long long)g_reordered,
           percentile(g_deliver_hist, 0.50, g_received), percentile(g_deliver_hist, 0.99, g_received),
           g_lat_max_ns / 1e6, percentile(g_ack_hist, 0.50, g_acked),
           percentile(g_ack_hist, 0.99, g_acked), busy / wall, (unsigned long long)g_closed);
    fflush(stdout);
    if (g_closed || (total && (double)g_acked / (double)total < 0.9) ||
        percentile(g_deliver_hist, 0.99, g_received) > 2000.0)
      break; /* past saturation there is nothing more to learn */
    uint64_t quiet = now_ns() + 1000000000ull; /* drain before the next step */
    while (now_ns() < quiet) poll_once(ep, 50);
  }
  return 0;
}
