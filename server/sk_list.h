/*
 * sk_list.h - the server's intrusive linked lists: the links are fields of the items
 * themselves, named by the caller (one item may sit on several lists), so no list allocates.
 * A singly linked list with a tail pointer queues in order (a session's PULLs, the desk's
 * waiting pages); a doubly linked one lets an item leave from anywhere (sessions, connections).
 *
 * Must never: evaluate an argument with side effects (each is read more than once).
 */
#ifndef SK_LIST_H
#define SK_LIST_H

#include <stddef.h>

/* Append item to the list head..tail linked through its field next; item's own next is the
 * caller's to set (NULL for the last). */
#define SK_LIST_APPEND(head, tail, item, next)                                                     \
    do {                                                                                           \
        if (tail)                                                                                  \
            (tail)->next = (item);                                                                 \
        else                                                                                       \
            (head) = (item);                                                                       \
        (tail) = (item);                                                                           \
    } while (0)

/* Put item first on the doubly linked list at head, linked through its fields prev and next. */
#define SK_DLIST_PUSH(head, item, prev, next)                                                      \
    do {                                                                                           \
        (item)->prev = NULL;                                                                       \
        (item)->next = (head);                                                                     \
        if (head)                                                                                  \
            (head)->prev = (item);                                                                 \
        (head) = (item);                                                                           \
    } while (0)

/* Take item off the doubly linked list at head; item's own links are left as they were. */
#define SK_DLIST_REMOVE(head, item, prev, next)                                                    \
    do {                                                                                           \
        if ((item)->prev)                                                                          \
            (item)->prev->next = (item)->next;                                                     \
        else                                                                                       \
            (head) = (item)->next;                                                                 \
        if ((item)->next)                                                                          \
            (item)->next->prev = (item)->prev;                                                     \
    } while (0)

#endif
