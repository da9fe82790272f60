/* A small unit-test framework: TEST(name) { ... CHECK(expr); ... }.
 * Tests register themselves; tests/unit/main.c runs them all, or those whose
 * name contains the first command-line argument. */
#ifndef DFM_TEST_H
#define DFM_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

struct dfm_test {
	const char *name;
	void (*fn)(void);
	struct dfm_test *next;
};

void dfm_test_register(struct dfm_test *t);
void dfm_test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Scratch directory for the running test, created fresh; valid until the
 * next test starts. */
const char *dfm_test_dir(void);

#define TEST(name)                                                      \
	static void test_##name(void);                                  \
	static struct dfm_test reg_##name = {#name, test_##name, NULL}; \
	__attribute__((constructor)) static void ctor_##name(void)      \
	{                                                               \
		dfm_test_register(&reg_##name);                         \
	}                                                               \
	static void test_##name(void)

#define CHECK(expr)                                                          \
	do {                                                                 \
		if (!(expr))                                                 \
			dfm_test_fail(__FILE__, __LINE__, "%s", #expr);      \
	} while (0)

#define CHECK_INT(a, b)                                                      \
	do {                                                                 \
		long long a_ = (long long)(a), b_ = (long long)(b);          \
		if (a_ != b_)                                                \
			dfm_test_fail(__FILE__, __LINE__, "%s == %lld, want %lld", \
				      #a, a_, b_);                           \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *a_ = (a), *b_ = (b);                             \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                       \
			dfm_test_fail(__FILE__, __LINE__, "%s == \"%s\", want \"%s\"", \
				      #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
	} while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_NEAR(a, b, tol)                                                \
	do {                                                                 \
		double a_ = (a), b_ = (b);                                   \
		double s_ = fabs(b_) > 1 ? fabs(b_) : 1;                     \
		if (!(fabs(a_ - b_) <= (tol) * s_))                          \
			dfm_test_fail(__FILE__, __LINE__, "%s == %.9g, want %.9g (tol %g)", \
				      #a, a_, b_, (double)(tol));            \
	} while (0)

#endif
