/* judge_idset: a set of item ids (strings) with O(1) lookups, used to find
 * duplicate ids in a dataset and the ids already present in a results file.
 * Open addressing, FNV-1a; ids are copied. */
#ifndef PHI3VK_JUDGE_IDSET_H
#define PHI3VK_JUDGE_IDSET_H

#include <stddef.h>

typedef struct judge_idset judge_idset;

/* An empty set; NULL when out of memory. */
judge_idset *judge_idset_create(void);
/* Frees the set and its copies of the ids (NULL is fine). */
void judge_idset_destroy(judge_idset *s);

/* Adds id with a caller value >= 0 (e.g. an index). Returns 1 if added, 0 if id
 * was already present (the stored value is left as it was and, when
 * old_value is not NULL, written there), -1 when out of memory. */
int judge_idset_add(judge_idset *s, const char *id, int value, int *old_value);

/* The value stored for id, or -1 when id is absent. */
int judge_idset_get(const judge_idset *s, const char *id);

/* Number of ids in the set. */
int judge_idset_count(const judge_idset *s);

#endif
