/*
 * sample_filter: a small filter built on sendmail's libmilter, used as a real
 * peer in libmilter++'s tests (recorded vectors, Postfix integration, interop
 * with our MTA side).
 *
 * Build:  bash tests/build_c_filter.sh OUTPUT_PATH
 *         (gcc -O2 -Wall sample_filter.c -lmilter -lpthread)
 * Run:    sample_filter SOCKET_SPEC        e.g. unix:/tmp/x.sock
 *                                              inet:9999@127.0.0.1
 *         Prints "sample_filter: listening on SPEC" to stderr once the socket
 *         is open. Stop it with SIGTERM (libmilter takes up to ~5 s to exit).
 *
 * Behaviour (exactly this, nothing else):
 *   - MAIL FROM <reject@example.com> (case-insensitive, brackets optional):
 *     smfi_setreply("550", "5.7.1", "Sender rejected by sample filter") and
 *     SMFIS_REJECT.
 *   - End of message, if the (first) Subject contains "NOMOD": accept with no
 *     modification at all.
 *   - Otherwise, at end of message:
 *       add header      X-Sample: yes
 *       change header   Subject -> "[sample] " + old subject value
 *       add recipient   <added@D>, D = domain of the first RCPT TO
 *                       (skipped if the first RCPT TO has no domain)
 *       if the Subject contains "REPLACE": replace the body with "replaced\r\n"
 *     and continue (accept).
 *   Everything else continues (every callback is registered, so the MTA sends
 *   every step: connect, helo, mail, rcpt, data, headers, end of headers,
 *   body chunks, end of message, unknown). Per-connection state lives in smfi_setpriv
 *   data, allocated at connect and freed at close, so any number of
 *   concurrent sessions (and several messages per session) are independent.
 */
#include <errno.h>
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

struct priv {
  char *first_rcpt_domain; /* domain of the first RCPT TO of this message */
  char *subject;           /* value of the first Subject header */
};

static struct priv *get_priv(SMFICTX *ctx) {
  struct priv *p = smfi_getpriv(ctx);
  if (p == NULL) {
    p = calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    if (smfi_setpriv(ctx, p) != MI_SUCCESS) {
      free(p);
      return NULL;
    }
  }
  return p;
}

static void reset_message(struct priv *p) {
  free(p->first_rcpt_domain);
  p->first_rcpt_domain = NULL;
  free(p->subject);
  p->subject = NULL;
}

/* "<user@Example.COM>" -> "Example.COM" (malloc'd), or NULL. */
static char *domain_of(const char *addr) {
  const char *at = strrchr(addr, '@');
  if (at == NULL) return NULL;
  at++;
  size_t n = strcspn(at, ">");
  if (n == 0) return NULL;
  return strndup(at, n);
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr) {
  (void)host;
  (void)addr;
  return get_priv(ctx) == NULL ? SMFIS_TEMPFAIL : SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv) {
  struct priv *p = get_priv(ctx);
  if (p == NULL) return SMFIS_TEMPFAIL;
  reset_message(p);
  const char *from = argv[0] != NULL ? argv[0] : "";
  size_t len = strlen(from);
  if (len >= 2 && from[0] == '<' && from[len - 1] == '>') {
    from++;
    len -= 2;
  }
  if (len == strlen("reject@example.com") &&
      strncasecmp(from, "reject@example.com", len) == 0) {
    smfi_setreply(ctx, "550", "5.7.1", "Sender rejected by sample filter");
    return SMFIS_REJECT;
  }
  return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv) {
  struct priv *p = get_priv(ctx);
  if (p == NULL) return SMFIS_TEMPFAIL;
  if (p->first_rcpt_domain == NULL && argv[0] != NULL) {
    p->first_rcpt_domain = domain_of(argv[0]);
    if (p->first_rcpt_domain == NULL) p->first_rcpt_domain = strdup("");
  }
  return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value) {
  struct priv *p = get_priv(ctx);
  if (p == NULL) return SMFIS_TEMPFAIL;
  if (p->subject == NULL && strcasecmp(name, "Subject") == 0) {
    p->subject = strdup(value);
  }
  return SMFIS_CONTINUE;
}

static sfsistat on_eom(SMFICTX *ctx) {
  struct priv *p = get_priv(ctx);
  if (p == NULL) return SMFIS_TEMPFAIL;
  const char *subject = p->subject != NULL ? p->subject : "";
  sfsistat result = SMFIS_CONTINUE;
  if (strstr(subject, "NOMOD") != NULL) {
    result = SMFIS_ACCEPT;
  } else {
    size_t n = strlen(subject) + sizeof("[sample] ");
    char *new_subject = malloc(n);
    if (new_subject == NULL) {
      result = SMFIS_TEMPFAIL;
    } else {
      snprintf(new_subject, n, "[sample] %s", subject);
      if (smfi_addheader(ctx, "X-Sample", "yes") != MI_SUCCESS ||
          smfi_chgheader(ctx, "Subject", 1, new_subject) != MI_SUCCESS) {
        result = SMFIS_TEMPFAIL;
      }
      free(new_subject);
    }
    if (result == SMFIS_CONTINUE && p->first_rcpt_domain != NULL &&
        p->first_rcpt_domain[0] != '\0') {
      size_t m = strlen(p->first_rcpt_domain) + sizeof("<added@>");
      char *rcpt = malloc(m);
      if (rcpt == NULL) {
        result = SMFIS_TEMPFAIL;
      } else {
        snprintf(rcpt, m, "<added@%s>", p->first_rcpt_domain);
        if (smfi_addrcpt(ctx, rcpt) != MI_SUCCESS) result = SMFIS_TEMPFAIL;
        free(rcpt);
      }
    }
    if (result == SMFIS_CONTINUE && strstr(subject, "REPLACE") != NULL) {
      static unsigned char replaced[] = "replaced\r\n";
      if (smfi_replacebody(ctx, replaced, sizeof(replaced) - 1) !=
          MI_SUCCESS) {
        result = SMFIS_TEMPFAIL;
      }
    }
  }
  reset_message(p);
  return result;
}

/* Callbacks that only continue: registered so that the MTA sends every
   step (libmilter asks the MTA not to send steps without a callback), which
   makes recorded sessions cover HELO, DATA, end of headers and body chunks. */
static sfsistat on_helo(SMFICTX *ctx, char *name) {
  (void)ctx;
  (void)name;
  return SMFIS_CONTINUE;
}
static sfsistat on_data(SMFICTX *ctx) {
  (void)ctx;
  return SMFIS_CONTINUE;
}
static sfsistat on_eoh(SMFICTX *ctx) {
  (void)ctx;
  return SMFIS_CONTINUE;
}
static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len) {
  (void)ctx;
  (void)chunk;
  (void)len;
  return SMFIS_CONTINUE;
}
static sfsistat on_unknown(SMFICTX *ctx, const char *command) {
  (void)ctx;
  (void)command;
  return SMFIS_CONTINUE;
}

static sfsistat on_abort(SMFICTX *ctx) {
  struct priv *p = smfi_getpriv(ctx);
  if (p != NULL) reset_message(p);
  return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx) {
  struct priv *p = smfi_getpriv(ctx);
  if (p != NULL) {
    reset_message(p);
    free(p);
    smfi_setpriv(ctx, NULL);
  }
  return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
    "sample_filter",
    SMFI_VERSION,
    SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT | SMFIF_CHGBODY,
    on_connect,
    on_helo,
    on_envfrom,
    on_envrcpt,
    on_header,
    on_eoh,
    on_body,
    on_eom,
    on_abort,
    on_close,
    on_unknown,
    on_data,
    NULL, /* negotiate */
};

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SOCKET_SPEC (unix:/path or inet:PORT@HOST)\n",
            argv[0]);
    return 2;
  }
  if (smfi_setconn(argv[1]) != MI_SUCCESS) {
    fprintf(stderr, "sample_filter: bad socket spec %s\n", argv[1]);
    return 1;
  }
  if (smfi_register(desc) != MI_SUCCESS) {
    fprintf(stderr, "sample_filter: smfi_register failed\n");
    return 1;
  }
  smfi_setbacklog(256);
  /* A unix socket must be usable by the MTA's own user (postfix). */
  umask(0);
  if (smfi_opensocket(1) != MI_SUCCESS) {
    fprintf(stderr, "sample_filter: cannot open %s\n", argv[1]);
    return 1;
  }
  fprintf(stderr, "sample_filter: listening on %s\n", argv[1]);
  fflush(stderr);
  return smfi_main() == MI_SUCCESS ? 0 : 1;
}
