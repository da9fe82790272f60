#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/claim.h"
#include "cache/error.h"
#include "tests/unit/test.h"

static struct dfm_digest
claim_key(void)
{
	return dfm_digest_of("train-gan/df/seed=3", 19);
}

static char *
lock_path(void)
{
	static char path[500];
	char hex[DFM_DIGEST_HEX];
	struct dfm_digest k = claim_key();

	snprintf(path, sizeof path, "%s/claims/%s.lock", dfm_test_dir(), dfm_digest_hex(&k, hex));
	return path;
}

static int
wait_child(pid_t pid)
{
	int status = -1;

	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Child: exits 0 when the claim is busy and names the holder pid. */
static int
expect_busy(pid_t holder_pid)
{
	struct dfm_digest k = claim_key();
	struct dfm_claim *c = NULL;
	const char *holder = NULL;
	char want[40];

	snprintf(want, sizeof want, "pid %ld on ", (long)holder_pid);
	if (dfm_claim_try(dfm_test_dir(), &k, &c, &holder) != DFM_ERR_BUSY || c)
		return 1;
	return holder && strncmp(holder, want, strlen(want)) == 0 ? 0 : 2;
}

TEST(claim_excludes_another_process)
{
	struct dfm_digest k = claim_key();
	struct dfm_claim *c = NULL, *again = NULL;
	const char *holder = NULL;
	pid_t me = getpid(), pid;

	CHECK_INT(dfm_claim_try(dfm_test_dir(), &k, &c, &holder), 0);
	CHECK(c != NULL && dfm_claim_fd(c) >= 0);
	CHECK_INT(access(lock_path(), F_OK), 0);
	pid = fork();
	if (pid == 0)
		_exit(expect_busy(me));
	CHECK_INT(wait_child(pid), 0);

	/* a second claim in the same process is refused too */
	CHECK_INT(dfm_claim_try(dfm_test_dir(), &k, &again, &holder), DFM_ERR_BUSY);
	CHECK(again == NULL);
	dfm_claim_release(c);
	CHECK(access(lock_path(), F_OK) != 0);

	pid = fork();
	if (pid == 0) {
		_exit(dfm_claim_try(dfm_test_dir(), &k, &c, NULL) != 0);
	}
	CHECK_INT(wait_child(pid), 0);
}

TEST(claim_of_killed_holder_is_free)
{
	struct dfm_digest k = claim_key();
	struct dfm_claim *c = NULL;
	const char *holder = NULL;
	char want[40], ready;
	int fds[2];
	pid_t pid;

	CHECK_INT(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		if (dfm_claim_try(dfm_test_dir(), &k, &c, NULL) != 0 || write(fds[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	CHECK(read(fds[0], &ready, 1) == 1);
	CHECK_INT(dfm_claim_try(dfm_test_dir(), &k, &c, &holder), DFM_ERR_BUSY);
	snprintf(want, sizeof want, "pid %ld on ", (long)pid);
	CHECK(holder && strncmp(holder, want, strlen(want)) == 0);
	kill(pid, SIGKILL);
	CHECK_INT(wait_child(pid), 128 + SIGKILL);
	CHECK_INT(dfm_claim_try(dfm_test_dir(), &k, &c, &holder), 0);
	dfm_claim_release(c);
	close(fds[0]);
	close(fds[1]);
}

TEST(claim_wait_blocks_until_release)
{
	struct dfm_digest k = claim_key();
	struct dfm_claim *c = NULL;
	char marker[500], ready;
	int fds[2];
	pid_t pid;

	snprintf(marker, sizeof marker, "%s/released", dfm_test_dir());
	CHECK_INT(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		FILE *f;

		if (dfm_claim_try(dfm_test_dir(), &k, &c, NULL) != 0 || write(fds[1], "x", 1) != 1)
			_exit(1);
		usleep(200 * 1000);
		f = fopen(marker, "w");
		if (!f || fclose(f) != 0)
			_exit(2);
		dfm_claim_release(c);
		_exit(0);
	}
	CHECK(read(fds[0], &ready, 1) == 1);
	CHECK_INT(dfm_claim_wait(dfm_test_dir(), &k, &c), 0);
	CHECK_INT(access(marker, F_OK), 0);
	dfm_claim_release(c);
	CHECK_INT(wait_child(pid), 0);
	close(fds[0]);
	close(fds[1]);
}

enum { CLAIMERS = 4, ROUNDS = 25 };

/* Child: adds one to the counter file ROUNDS times under the claim, with a
 * gap between read and write that an unguarded race would lose updates in. */
static int
count_under_claim(const char *counter)
{
	struct dfm_digest k = claim_key();

	for (int i = 0; i < ROUNDS; i++) {
		struct dfm_claim *c;
		FILE *f;
		int n = 0;

		if (dfm_claim_wait(dfm_test_dir(), &k, &c) != 0)
			return 1;
		f = fopen(counter, "r");
		if (f) {
			if (fscanf(f, "%d", &n) != 1)
				n = -1000;
			fclose(f);
		}
		usleep(300);
		f = fopen(counter, "w");
		if (!f)
			return 2;
		fprintf(f, "%d\n", n + 1);
		if (fclose(f) != 0)
			return 3;
		dfm_claim_release(c);
	}
	return 0;
}

TEST(claim_serialises_many_processes)
{
	pid_t pids[CLAIMERS];
	char counter[500];
	FILE *f;
	int n = -1;

	snprintf(counter, sizeof counter, "%s/counter", dfm_test_dir());
	for (int i = 0; i < CLAIMERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(count_under_claim(counter));
	}
	for (int i = 0; i < CLAIMERS; i++)
		CHECK_INT(wait_child(pids[i]), 0);
	f = fopen(counter, "r");
	CHECK(f != NULL);
	if (f) {
		CHECK(fscanf(f, "%d", &n) == 1);
		fclose(f);
	}
	CHECK_INT(n, CLAIMERS * ROUNDS);
	CHECK(access(lock_path(), F_OK) != 0);
}

TEST(claim_reports_missing_cache_dir)
{
	struct dfm_digest k = claim_key();
	struct dfm_claim *c = NULL;
	char dir[500];

	snprintf(dir, sizeof dir, "%s/absent", dfm_test_dir());
	CHECK_INT(dfm_claim_try(dir, &k, &c, NULL), ENOENT);
	CHECK(c == NULL);
}

TEST(claim_files_follow_umask)
{
	struct dfm_digest k = claim_key();
	struct dfm_claim *c = NULL;
	mode_t old = umask(002);
	char dir[500];
	struct stat st;

	CHECK_INT(dfm_claim_try(dfm_test_dir(), &k, &c, NULL), 0);
	umask(old);
	snprintf(dir, sizeof dir, "%s/claims", dfm_test_dir());
	CHECK_INT(stat(dir, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0775);
	CHECK_INT(stat(lock_path(), &st), 0);
	CHECK_INT(st.st_mode & 0777, 0664);
	dfm_claim_release(c);
}
