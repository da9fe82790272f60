/* Claims as flock(2) locks on files under DIR/claims.
 *
 * Lock files are removed on release, and that needs care: a process may
 * have opened the file just before the holder unlinks it, then lock the
 * unlinked inode while a third process creates and locks a new file at the
 * same path; both would think they hold the claim.  So a claimer, once it
 * has the lock, checks that the path still names the inode it locked, and
 * starts over when it does not.  The holder unlinks while it still holds
 * the lock, so whoever locks the old inode afterwards sees the mismatch.
 * Only a holder unlinks, and only its own file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/claim.h"
#include "cache/error.h"

struct dfm_claim {
	int fd;
	char *path;
};

static _Thread_local char holder_text[200];

/* Makes the claims folder and the lock file's path in *path. */
static int
claim_path(const char *cache_dir, const struct dfm_digest *key, char **path)
{
	char hex[DFM_DIGEST_HEX], *dir;
	int rc = 0;

	*path = NULL;
	if (asprintf(&dir, "%s/claims", cache_dir) < 0)
		return DFM_ERR_NOMEM;
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		rc = errno;
	else if (asprintf(path, "%s/%s.lock", dir, dfm_digest_hex(key, hex)) < 0)
		rc = DFM_ERR_NOMEM;
	free(dir);
	if (rc)
		*path = NULL;
	return rc;
}

/* Describes the holder from the lock file's text, for messages. */
static const char *
read_holder(int fd)
{
	ssize_t n = pread(fd, holder_text, sizeof holder_text - 1, 0);

	while (n > 0 && (holder_text[n - 1] == '\n' || holder_text[n - 1] == '\0'))
		n--;
	if (n <= 0)
		return "an unknown process";
	holder_text[n] = '\0';
	return holder_text;
}

/* Records who holds the claim; the text only serves messages, so a
 * failure here does not fail the claim. */
static int
write_holder(int fd)
{
	char host[256] = "unknown host", text[320];
	int n;

	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	n = snprintf(text, sizeof text, "pid %ld on %s\n", (long)getpid(), host);
	if (ftruncate(fd, 0) != 0)
		return errno;
	return pwrite(fd, text, (size_t)n, 0) == n ? 0 : errno;
}

/* Nonzero when path still names the file open on fd. */
static int
still_linked(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

static int
lock_fd(int fd, int wait)
{
	int rc;

	do
		rc = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
	while (rc != 0 && errno == EINTR);
	return rc == 0 ? 0 : errno == EWOULDBLOCK ? DFM_ERR_BUSY : errno;
}

/* Opens the lock file, creating it when missing.  A file another user
 * left without write permission for us can still be locked read-only:
 * flock needs no write access, only the holder text is then not updated. */
static int
open_lock_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);

	if (fd < 0 && errno == EACCES)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd;
}

/* Opens and locks path until the lock is on the file the path names. */
static int
lock_path(const char *path, int wait, int *out, const char **holder)
{
	for (;;) {
		int fd = open_lock_file(path);
		int rc;

		if (fd < 0)
			return errno;
		rc = lock_fd(fd, wait);
		if (rc == 0 && still_linked(fd, path)) {
			*out = fd;
			return 0;
		}
		if (rc == DFM_ERR_BUSY && holder)
			*holder = read_holder(fd);
		close(fd);
		if (rc)
			return rc;
	}
}

static int
claim(const char *cache_dir, const struct dfm_digest *key, int wait,
      struct dfm_claim **out, const char **holder)
{
	struct dfm_claim *c = calloc(1, sizeof *c);
	int rc = DFM_ERR_NOMEM;

	*out = NULL;
	if (!c)
		goto fail;
	rc = claim_path(cache_dir, key, &c->path);
	if (rc == 0)
		rc = lock_path(c->path, wait, &c->fd, holder);
	if (rc)
		goto fail;
	write_holder(c->fd);
	*out = c;
	return 0;
fail:
	if (c)
		free(c->path);
	free(c);
	return rc;
}

int
dfm_claim_try(const char *cache_dir, const struct dfm_digest *key,
	      struct dfm_claim **out, const char **holder)
{
	return claim(cache_dir, key, 0, out, holder);
}

int
dfm_claim_wait(const char *cache_dir, const struct dfm_digest *key,
	       struct dfm_claim **out)
{
	return claim(cache_dir, key, 1, out, NULL);
}

int
dfm_claim_fd(const struct dfm_claim *c)
{
	return c->fd;
}

void
dfm_claim_release(struct dfm_claim *c)
{
	if (!c)
		return;
	unlink(c->path);
	close(c->fd);
	free(c->path);
	free(c);
}
