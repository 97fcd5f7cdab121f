/*
 * cpuslab_locked.pml: the CPUSlabLocked fast path, the old design without
 * pinning (LOCK CMPXCHG16B on the per-P (freelist, tid) pair).
 *
 * Mirrors alloc/cpuslab_locked.go: lockedAlloc, cpuSlabLockedPercpu.free
 * and lockedPush, lockedAllocSlow, lockedPop, lockedLoad,
 * lockedInstallChain, lockedDetach, lockedAllocNoLock,
 * cpuSlabLockedPercpu.freeNoLock (lockedPushMaybeLocked),
 * cpuSlabLockedPercpu.flush; alloc/cpuslab.go: detachCPU, flushCPULocked.
 *
 * One P's kmemCacheCPU and one slab S of NOBJ objects (1..NOBJ; 0 is nil).
 * Every process names the same kmemCacheCPU, so any interleaving of them is
 * a goroutine migrating between any two of its steps (the CAS names the
 * structure the goroutine read, not the P it runs on now). Processes:
 *   G (NG of them)  goroutines: OPS nondeterministic Alloc or Free, then
 *               free what they hold; a free may also run on another P
 *               (thisCPU named a P whose cpu slab is not S) and go to the
 *               slab.
 *   H           a trace hook's AllocNoLock and FreeNoLock
 *               (lockedAllocNoLock, cpuSlabLockedPercpu.freeNoLock); it may
 *               run while the per-P lock is held, at any step of the
 *               holder's sequence (its TryLock then fails).
 *   F           Shrink/Validate: flushCPULocked under the per-P lock (FLUSHES
 *               times).
 * Loads and stores of the pair and of cc.slab are Go atomics (sequentially
 * consistent), so interleaving is exact for them. Free pointers are plain
 * memory: a push writes the pointer before its CAS, a pop reads it after
 * loading the head, and the CAS orders the two, so the model reads the value
 * the pusher wrote; a stale read can only precede a failing CAS.
 *
 * Slab-level steps (__slab_free, get_freelist, freeze, deactivate_slab) are
 * single atomic steps here: slabfree.pml checks them on their own.
 * "listed" stands for "on the node partial or a cpu partial list", both of
 * which the slow path takes from under a lock. With one slab a new-slab
 * allocation fails (the memory limit): the reinstall of S after a flush
 * is the install that races with the lockless paths.
 *
 * Properties: no object is handed out twice; the install CAS of a new cpu
 * freelist never fails (lockedInstallChain panics when it does); at the end,
 * with everything freed, every object is exactly once on the cpu freelist,
 * the slab freelist or the deferred list, inuse == NOBJ - len(slab freelist),
 * and no cpu freelist is left without a cpu slab. No cycles (pan -l): every
 * retry loop ends when the others stop.
 *
 * Bound: NOBJ objects, NG goroutines with OPS operations each, HOOK hooks,
 * FLUSHES flushes, tids modulo 256 (fewer pair changes than that in any
 * run). Witnesses (-DWITNESS=n fails on reaching n): 1 frees raced into the
 * slow path's detach, 2 get_freelist refills, 3 a TryLock fails, 4 a fast
 * CAS fails, 5 a free finds the slab off the P, 6 a flushed slab is
 * installed again. Mutants (-D):
 *   NOTID   the CAS does not advance the tid: ABA hands an object out twice,
 *           and a free that read the pair before the slow path detached it
 *           pushes onto the new, empty freelist.
 *   NONIL   the slow path keeps the cpu slab on the P while it detaches and
 *           reinstalls the freelist (skips the nil publication).
 *   SWAP    flushCPULocked (detachCPU) detaches the freelist before clearing
 *           the slab.
 */

#ifndef NOBJ
#define NOBJ 3
#endif
#ifndef NG
#define NG 2		/* goroutines */
#endif
#ifndef OPS
#define OPS 2		/* operations per goroutine, before it frees the rest */
#endif
#ifndef HOOK
#define HOOK 1		/* run H */
#endif
#ifndef FLUSHES
#define FLUSHES 1	/* flushes by F */
#endif

#ifdef NOTID
#define STEP 0
#else
#define STEP 1
#endif

#define CHECK(c, msg) if :: (c) -> skip :: else -> printf(msg); assert(c) fi

#ifdef WITNESS
/* REACH(n) fails the run when WITNESS == n: a run that must fail shows the
 * bounded configuration reaches that branch. */
#define REACH(n) if :: WITNESS == n -> printf("witness: %d\n", n); assert(false) :: else -> skip fi;
#else
#define REACH(n)
#endif

byte next[NOBJ + 1];	/* free pointer of each object */
bit out[NOBJ + 1];	/* ghost: handed out */
bit indef[NOBJ + 1];	/* ghost: on the deferred list */

/* kmemCacheCPU */
byte cfl;		/* pair.Lo: the cpu freelist */
byte tid;		/* pair.Hi */
bit cslab;		/* cc.slab: 1 is S, 0 is nil */
byte mu;		/* cc.mu: 0 free, else the holder's _pid + 1 */

/* slab S */
byte sfl;		/* its own freelist */
byte inuse;
bit frozen;
bit listed;		/* on the node partial or a cpu partial list */

/*
 * Reading the pair. An alloc loads tid, the freelist, then cc.slab; a free
 * loads tid, cc.slab, then the freelist. Every change of the pair advances
 * the tid, so if the pair changed after the tid was loaded the CAS fails and
 * the loop starts over. The model therefore loads both words in one step
 * (an alloc where it loads the freelist, a free where it loads the tid),
 * keeping the order that matters: the tid before cc.slab. That gives the
 * same outcomes up to stutters of failed iterations. The free pointer of the
 * head is read in a step of its own: that read can be stale, which is what
 * the tid is for.
 */

/* A pop's CAS, with the hand-out (ghost) at its linearization point. */
inline cas_pop(o, t, nx, res) {
	d_step {
		if
		:: cfl == o && tid == t ->
			cfl = nx; tid = t + STEP; res = 1;
			CHECK(!out[o], "violated: object handed out twice\n");
			out[o] = 1
		:: else -> res = 0
		fi
	}
}

inline cas_push(f, t, a, res) {
	d_step {
		if
		:: cfl == f && tid == t -> cfl = a; tid = t + STEP; res = 1
		:: else -> res = 0
		fi
	}
}

/* Hand out the first object of a chain taken from a slab (ghost). */
inline handout(o) {
	d_step {
		CHECK(!out[o], "violated: object handed out twice\n");
		out[o] = 1
	}
}

/* __slab_free of one object, abstracted (slabfree.pml checks it). */
inline slab_free(a) {
	d_step {
		CHECK(inuse > 0, "violated: free to a slab with nothing in use\n");
		out[a] = 0;
		next[a] = sfl; sfl = a; inuse--;
		if
		:: !frozen && !listed -> listed = 1
		:: else -> skip
		fi
	}
}

/* get_freelist: the cpu slab takes its own freelist; unfrozen when empty. */
inline get_freelist(fl) {
	d_step { fl = sfl; sfl = 0; inuse = NOBJ; frozen = (fl != 0) }
}

/* get_partial_node + freeze_slab: S from a list becomes the cpu slab. */
inline get_partial(fl) {
	d_step {
		if
		:: listed && !frozen && sfl != 0 ->
			listed = 0; frozen = 1; fl = sfl; sfl = 0; inuse = NOBJ
		:: else -> fl = 0
		fi
	}
}

/* deactivate_slab: splice a detached cpu freelist back, unfreeze. */
inline deactivate(fl) {
	d_step {
		o = fl; i = 0;
		do
		:: o != 0 && i <= NOBJ -> nx = next[o]; next[o] = sfl; sfl = o; i++; o = nx
		:: else -> break
		od;
		CHECK(i <= NOBJ, "violated: cycle in a detached cpu freelist\n");
		CHECK(inuse >= i, "violated: deactivate frees more than inuse\n");
		inuse = inuse - i; frozen = 0;
		if
		:: sfl != 0 -> listed = 1
		:: else -> skip
		fi;
		o = 0; nx = 0; i = 0
	}
}

/* lockedPop: under the per-P lock; lockless frees may race. */
inline pop_cpu(obj) {
	do
	:: atomic { t = tid; o = cfl };
		if
		:: o == 0 -> obj = 0; break
		:: else ->
			nx = next[o];
			cas_pop(o, t, nx, ok);
			if
			:: ok -> obj = o; break
			:: else -> skip
			fi
		fi
	od;
	atomic { o = 0; nx = 0; t = 0; ok = 0 }
}

/* lockedDetach (and detachCPU's loop): a read and a CAS that retries until nothing changed
 * between them, which is one atomic step at the successful CAS. */
inline detach(fl) {
	d_step { fl = cfl; cfl = 0; tid = tid + STEP }
}

/* lockedInstallChain: the caller holds mu and has taken the slab off the P, so
 * the CAS from an empty freelist cannot fail (the code panics if it does). */
inline install(head) {
	t = tid;
#ifndef NONIL
	CHECK(cslab == 0, "violated: cpu freelist installed while the cpu slab is on the P\n");
#endif
	cas_push(0, t, head, ok);
	CHECK(ok, "violated: the install CAS of a cpu freelist failed\n");
	atomic { t = 0; ok = 0 }
}

/* lockedLoad: hand out the first object of fl, install the rest, then
 * set the slab (the caller does, after load_freelist). */
inline load_freelist(obj, fl) {
	obj = fl; handout(obj); install(next[fl])
}

/* lockedAllocSlow (___slab_alloc) under cc.mu; noblock only try-locks. */
inline slow_alloc(obj, noblock) {
	obj = 0;
	if
	:: noblock -> atomic {
			if
			:: mu == 0 -> mu = _pid + 1; got = 1
			:: else -> got = 0
			fi
		};
		if
		:: !got -> REACH(3) skip
		:: else -> skip
		fi
	:: else -> atomic { mu == 0 -> mu = _pid + 1; got = 1 }
	fi;
	if
	:: got ->
		do
		:: cslab != 0 ->
			pop_cpu(obj);
			if
			:: obj != 0 -> break
			:: else -> skip
			fi;
#ifndef NONIL
			cslab = 0;
#endif
			detach(f);
			if
			:: f != 0 ->
				/* frees raced in: use them */
				REACH(1) load_freelist(obj, f); cslab = 1; break
			:: else -> skip
			fi;
#ifdef NONIL
			cslab = 0;
#endif
			get_freelist(f);
			if
			:: f != 0 -> REACH(2) load_freelist(obj, f); cslab = 1; break
			:: else -> skip	/* exhausted: full, unfrozen, no list */
			fi
		:: else ->
			get_partial(f);
			if
			:: f != 0 -> REACH(6) load_freelist(obj, f); cslab = 1
			:: else -> skip	/* no slab: a new one is over the limit */
			fi;
			break
		od;
		atomic { f = 0; mu = 0 }
	:: else -> skip
	fi;
	got = 0
}

/* lockedAlloc */
inline fast_alloc(obj) {
	do
	:: atomic { t = tid; o = cfl };
		if
		:: o == 0 || cslab == 0 -> atomic { o = 0; t = 0 }; slow_alloc(obj, 0); break
		:: else ->
			nx = next[o];
			cas_pop(o, t, nx, ok);
			if
			:: ok -> obj = o; break
			:: else -> REACH(4) skip
			fi
		fi
	od;
	atomic { o = 0; nx = 0; t = 0; ok = 0 }
}

/* cpuSlabLockedPercpu.free: lockedPush, else __slab_free */
inline cpu_free(a) {
	if
	:: true -> slab_free(a)	/* thisCPU named another P */
	:: true ->
		do
		:: atomic { out[a] = 0; t = tid; f = cfl };
			if
			:: cslab == 0 -> REACH(5) atomic { t = 0; f = 0 }; slab_free(a); break
			:: else ->
				CHECK(f != a, "violated: double free on the cpu freelist\n");
				next[a] = f;
				cas_push(f, t, a, ok);
				if
				:: ok -> break
				:: else -> skip
				fi
			fi
		od
	fi;
	atomic { f = 0; t = 0; ok = 0 }
}

#ifndef TRIES
#define TRIES 4		/* lockedAllocNoLock's lockless tries */
#endif

/* lockedAllocNoLock */
inline nolock_alloc(obj) {
	obj = 0; i = 0;
	do
	:: i < TRIES -> i++;
		d_step { t = tid; o = cfl };
		if
		:: o == 0 || cslab == 0 -> break
		:: else ->
			nx = next[o];
			cas_pop(o, t, nx, ok);
			if
			:: ok -> obj = o; break
			:: else -> skip
			fi
		fi
	:: else -> break
	od;
	atomic { o = 0; nx = 0; i = 0; t = 0; ok = 0 };
	if
	:: obj == 0 -> slow_alloc(obj, 1)
	:: else -> skip
	fi
}

/* cpuSlabLockedPercpu.freeNoLock; FreeNoLock defers what it cannot push. */
inline nolock_free(a) {
	do
	:: atomic { out[a] = 0; t = tid; f = cfl };
		if
		:: cslab == 0 -> atomic { indef[a] = 1; t = 0; f = 0 }; break
		:: else ->
			next[a] = f;
			cas_push(f, t, a, ok);
			if
			:: ok -> break
			:: else -> skip
			fi
		fi
	od;
	atomic { f = 0; t = 0; ok = 0 }
}

proctype G() {
	byte t, o, nx, f, obj, h1, h2, n;
	bit ok, got;
	do
	:: n < OPS -> n++;
		if
		:: h1 == 0 -> fast_alloc(obj); h1 = obj; obj = 0
		:: h1 != 0 && h2 == 0 -> fast_alloc(obj); h2 = obj; obj = 0
		:: h1 != 0 -> cpu_free(h1); h1 = 0
		:: h2 != 0 -> cpu_free(h2); h2 = 0
		fi
	:: else -> break
	od;
	if
	:: h1 != 0 -> cpu_free(h1); h1 = 0
	:: else -> skip
	fi;
	if
	:: h2 != 0 -> cpu_free(h2); h2 = 0
	:: else -> skip
	fi
}

proctype H() {
	byte t, o, nx, f, i, obj;
	bit ok, got;
	nolock_alloc(obj);
	if
	:: obj != 0 -> nolock_free(obj)
	:: else -> skip
	fi
}

/* cpuSlabLockedPercpu.flush: flushCPULocked under cc.mu */
proctype F() {
	byte t, o, nx, f, i, n;
	bit s;
	do
	:: n < FLUSHES -> n++;
		atomic { mu == 0 -> mu = _pid + 1; s = cslab };
		if
		:: s ->
#ifdef SWAP
			detach(f);
			cslab = 0;
#else
			cslab = 0;
			detach(f);
#endif
			deactivate(f)
		:: else -> skip
		fi;
		atomic { f = 0; s = 0; mu = 0 }
	:: else -> break
	od
}

init {
	byte o, cnt[NOBJ + 1], ln;
	d_step {
		/* S is the cpu slab with every object on the cpu freelist. */
		o = 1;
		do
		:: o < NOBJ -> next[o] = o + 1; o++
		:: else -> break
		od;
		next[NOBJ] = 0;
		cfl = 1; cslab = 1; frozen = 1; inuse = NOBJ;
		o = 0
	}
	atomic {
		run G();
		if
		:: NG > 1 -> run G()
		:: else -> skip
		fi;
		if
		:: HOOK -> run H()
		:: else -> skip
		fi;
		if
		:: FLUSHES > 0 -> run F()
		:: else -> skip
		fi
	}
	(_nr_pr == 1);
	d_step {
		o = cfl; ln = 0;
		do
		:: o != 0 && ln <= NOBJ -> cnt[o]++; ln++; o = next[o]
		:: else -> break
		od;
		CHECK(cslab || cfl == 0, "violated: a cpu freelist without a cpu slab\n");
		o = sfl; ln = 0;
		do
		:: o != 0 && ln <= NOBJ -> cnt[o]++; ln++; o = next[o]
		:: else -> break
		od;
		CHECK(inuse == NOBJ - ln, "violated: inuse != objects - len(slab freelist)\n");
		o = 1;
		do
		:: o <= NOBJ ->
			CHECK(cnt[o] + indef[o] == 1, "violated: an object lost or on two lists\n");
			o++
		:: else -> break
		od
	}
}
