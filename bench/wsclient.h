/*
 * The raw WebSocket client side shared by the C load generators (loadgen.c, chatgen.c): a
 * blocking connect with the HTTP upgrade, masked text frames out, and a parser that hands every
 * complete text frame of a non-blocking socket to a callback. Header-only, so each generator
 * stays one `gcc -O2 -o X X.c` away.
 */
#ifndef TOWNSQUARE_WSCLIENT_H
#define TOWNSQUARE_WSCLIENT_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* one connection's read side: state 0 until the upgrade answer is read, then the program's */
typedef struct {
  int fd;
  int state;
  size_t len;
  size_t cap;
  char *buf;
} ws_conn_t;

/* called with each complete text frame's payload */
typedef void (*ws_text_fn)(void *owner, const char *payload, size_t len);

static const char *ws_program = "ws";

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *msg) {
  fprintf(stderr, "%s: %s: %s\n", ws_program, msg, strerror(errno));
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

/* A masked (zero key) client text frame; a connection the server closed (fd < 0) is skipped. */
static void send_text(int fd, const char *text, size_t len) {
  if (fd < 0) return;
  char out[4096];
  size_t h = 0;
  if (len > sizeof out - 8) {
    fprintf(stderr, "%s: frame too large to send\n", ws_program);
    exit(1);
  }
  out[h++] = (char)0x81;
  if (len < 126) {
    out[h++] = (char)(0x80 | len);
  } else {
    out[h++] = (char)(0x80 | 126);
    out[h++] = (char)(len >> 8);
    out[h++] = (char)(len & 0xff);
  }
  memset(out + h, 0, 4);
  h += 4;
  memcpy(out + h, text, len);
  write_all(fd, out, h + len);
}

/* Connect and send the Engine.IO WebSocket upgrade request; the answer is read by ws_pump. */
static int ws_open(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, host, &a.sin_addr);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s:%d\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   host, port);
  write_all(fd, req, (size_t)n);
  return fd;
}

/* Read everything available and hand each text frame to `on_text`; -1 if the peer closed. */
static int ws_pump(ws_conn_t *c, ws_text_fn on_text, void *owner) {
  for (;;) {
    ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
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
        fprintf(stderr, "%s: upgrade refused: %.*s\n", ws_program, (int)(end - c->buf), c->buf);
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
      if (opcode == 1) on_text(owner, (const char *)h + hl, (size_t)plen);
      if (opcode == 8) return -1;
      off += hl + (size_t)plen;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    if (c->len == c->cap) {
      fprintf(stderr, "%s: frame too large\n", ws_program);
      exit(1);
    }
  }
  return 0;
}

#endif
