/*
 * deferred.pml: the deferred-free list, lock-free pushes against
 * whole-list drains, with a push from a trace hook that runs during a drain.
 *
 * Mirrors alloc/deferred.go: deferFreelist, drainDeferred,
 * freeDeferredObject; alloc/nolock.go: FreeNoLock (the push of one object);
 * alloc/node.go: refillObjects (the push of a chain).
 *
 * Objects 1..4 linked through their free pointers. P(1) pushes the chain
 * 1 -> 2 (cnt 2, as a refill gives back what a busy list_lock kept it from
 * freeing); P(2) pushes object 3 (a FreeNoLock that could not free).
 * Drainers X(1) and X(2) each drain once; inside X(1)'s walk, after it freed
 * an object to its slab, a trace hook (EventSlabFree under list_lock) pushes
 * object 4. The head and the count are Go atomics (sequentially consistent);
 * a free pointer is written by the pusher before its CAS and read by the
 * drainer after its Swap, which orders them. Freeing a drained object to its
 * slab (__slab_free) writes the object's free pointer, so a walk that read
 * it afterwards would follow the slab's freelist.
 *
 * Properties: every pushed object is freed to its slab exactly once or is
 * still on the list at the end; the count is never negative and at the end
 * equals the length of the list; no cycles (pan -l): a push's retry loop
 * ends when the others stop. Bound: the pushes and drains above.
 * Witnesses (-DWITNESS=n): 1 the hook pushes during a drain, 2 a push's CAS
 * fails, 3 and 4 X(1) and X(2) find work.
 * Mutants (-D):
 *   DRAINLOAD   drain with a load and a store of 0 instead of one Swap: a
 *               push in between is lost.
 *   NEXTLATE    read an object's free pointer after freeing it to its slab.
 *   COUNTLATE   add to the count after the push: a drain makes it negative.
 *   NOREREAD    a failed push retries with the head it read first (a
 *               livelock, found by the progress check, pan -l).
 */

#define NOBJ 4

#define CHECK(c, msg) if :: (c) -> skip :: else -> printf(msg); assert(c) fi

#ifdef WITNESS
/* REACH(n) fails the run when WITNESS == n: a run that must fail shows the
 * bounded configuration reaches that branch. */
#define REACH(n) if :: WITNESS == n -> printf("witness: %d\n", n); assert(false) :: else -> skip fi;
#else
#define REACH(n)
#endif

byte head;		/* deferred.head */
short n;		/* deferred.n */
byte next[NOBJ + 1];	/* free pointers */

/* The slab: freeDeferredObject's __slab_free, one step (slabfree.pml). */
byte sfl;
bit freed[NOBJ + 1];	/* ghost: freed to the slab */
bit pushed[NOBJ + 1];	/* ghost: pushed on the deferred list */

inline slab_free(o) {
	d_step {
		CHECK(pushed[o] && !freed[o], "violated: an object freed twice, or freed without being deferred\n");
		freed[o] = 1;
		next[o] = sfl; sfl = o
	}
}

/* deferFreelist(h, t, cnt) */
inline push(h, t, cnt) {
#ifndef COUNTLATE
	n = n + cnt;
#endif
#ifdef NOREREAD
	old = head;
#endif
	do
	:: 
#ifndef NOREREAD
		old = head;
#endif
		next[t] = old;
		atomic {
			if
			:: head == old -> head = h; ok = 1
			:: else -> ok = 0
			fi
		};
		if
		:: ok -> break
		:: else -> REACH(2) skip
		fi
	od;
#ifdef COUNTLATE
	n = n + cnt;
#endif
	atomic { old = 0; ok = 0 }
}

/* P(1) pushes the chain 1 -> 2, P(2) the object 3. */
proctype P(byte who) {
	byte old;
	bit ok;
	if
	:: who == 1 -> d_step { next[1] = 2; pushed[1] = 1; pushed[2] = 1 }; push(1, 2, 2)
	:: else -> d_step { pushed[3] = 1 }; push(3, 3, 1)
	fi
}

/* drainDeferred; X(1) runs the hook once inside its walk. */
proctype X(byte who) {
	byte o, nx, old;
	bit ok, hooked;
	if
	:: head == 0 -> skip
	:: else -> REACH(who + 2)
#ifdef DRAINLOAD
		o = head;
		head = 0;
#else
		d_step { o = head; head = 0 };
#endif
		do
		:: o != 0 ->
#ifndef NEXTLATE
			nx = next[o];
#endif
			d_step {
				n--;
				CHECK(n >= 0, "violated: the deferred count went negative\n")
			};
			slab_free(o);
#ifdef NEXTLATE
			nx = next[o];
#endif
			if
			:: who == 1 && !hooked ->
				/* a trace hook's FreeNoLock defers object 4 */
				REACH(1) hooked = 1;
				d_step { pushed[4] = 1 };
				push(4, 4, 1)
			:: true -> skip
			fi;
			o = nx; nx = 0
		:: else -> break
		od
	fi
}

init {
	byte o, ln;
	atomic {
		run P(1); run P(2); run X(1); run X(2)
	}
	(_nr_pr == 1);
	d_step {
		o = head; ln = 0;
		do
		:: o != 0 && ln <= NOBJ ->
			CHECK(!freed[o], "violated: an object both freed and on the deferred list\n");
			freed[o] = 1;	/* counted once */
			ln++; o = next[o]
		:: else -> break
		od;
		CHECK(ln <= NOBJ, "violated: a cycle in the deferred list\n");
		CHECK(n == ln, "violated: the deferred count differs from the list\n");
		o = 1;
		do
		:: o <= NOBJ -> CHECK(freed[o] == pushed[o], "violated: a deferred object lost\n"); o++
		:: else -> break
		od
	}
}
