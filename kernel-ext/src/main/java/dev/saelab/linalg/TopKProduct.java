package dev.saelab.linalg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * The top-k entries of {@code L · Rᵀ} ({@code L [nL, r]}, {@code R [nR, r]}) without materialising
 * the {@code nL × nR} matrix, exactly.
 *
 * <p>Tiles of the product are computed into reused off-heap buffers by a fast GEMM (the {@link
 * Screen}: float32, or 8-bit integers with exact int32 sums), then one pass over the tile compares
 * whole vectors of approximate keys with the heap's threshold lowered by a rigorous bound on the
 * screen's error ({@link TileKernels}). The float32 screen computes each tile on every core and
 * then scans it on the workers; the int8 screen is fused: each worker computes its own tiles on one
 * core and scans each one straight after its GEMM, while it is still in that core's cache. The rare
 * entries that pass are <em>rescored</em>: their value is the double-precision dot product of the
 * two float32 rows, rounded once to float, and only that value enters the bounded heap. So every
 * screen yields the same table: the top-k of the correctly rounded products, ordered by key, then
 * row, then column.
 *
 * <p>Exact norm-bound pruning: rows of L and R are sorted by L2 norm (descending); a tile whose
 * Cauchy–Schwarz bound {@code max‖l‖ · max‖r‖} (norms in double, suffix maxima) is below the
 * current k-th key is skipped, and so is every tile after it in its row block.
 */
final class TopKProduct {
  /** Unit roundoff of float32. */
  private static final double U = Math.scalb(1.0, -24);

  private final int tileRows;
  private final int tileCols;
  private final boolean prune;
  private final Screen screen;
  private final Map<String, INDArray> tiles = new HashMap<>();
  private final Map<String, ByteBuffer> views = new HashMap<>();
  private final Map<String, INDArray> scratch = new HashMap<>();
  private final Map<String, IntTile> intTiles = new HashMap<>();
  private final TileKernels kernels = TileKernels.best();
  private final int threads;
  private java.util.concurrent.ExecutorService pool;
  private Side leftSide;
  private Side rightSide;

  /** An engine with this JVM's default screen ({@link Screen#auto()}). */
  TopKProduct(int tileRows, int tileCols, boolean prune) {
    this(tileRows, tileCols, prune, Screen.auto());
  }

  /**
   * @param tileRows rows per tile (e.g. 2048)
   * @param tileCols columns per tile (e.g. 16384)
   * @param prune whether to skip tiles by the norm bound
   * @param screen how tiles are computed before candidates are rescored
   */
  TopKProduct(int tileRows, int tileCols, boolean prune, Screen screen) {
    this(tileRows, tileCols, prune, screen, FactoredProduct.workers());
  }

  /** An engine with {@code workers} workers (tests: more workers than cores race harder). */
  TopKProduct(int tileRows, int tileCols, boolean prune, Screen screen, int workers) {
    this.tileRows = tileRows;
    this.tileCols = tileCols;
    this.prune = prune;
    this.screen = screen;
    this.threads = workers;
  }

  /** One scanning thread's bounded heap and counters. */
  private static final class Worker {
    final TopKHeap heap;
    final FactoredProduct.Stats st = new FactoredProduct.Stats();
    final Run run;

    Worker(int k, Run run) {
      heap = new TopKHeap(k);
      this.run = run;
    }

    /**
     * The key an entry must reach to matter: this worker's k-th key, or a larger one another worker
     * has: k entries already reach it, so nothing below it is in the table (equal keys still pass,
     * ties are broken later).
     */
    float threshold() {
      return Math.max(heap.threshold(), run.proved);
    }
  }

  /** One call's operands, heaps and proved threshold. */
  private final class Run {
    final Side left;
    final Side right;

    /** Inner width r. */
    final int r;

    /** Worst-case relative error of a float32 tile entry, in units of ‖l‖·‖r‖ (float screen). */
    final double floatSlack;

    final Worker[] workers;
    final RankBy rankBy;
    final boolean excludeDiagonal;

    /**
     * A key at least k entries reach (from any worker's full heap, or from priming); only ever
     * rises.
     */
    volatile float proved = Float.NEGATIVE_INFINITY;

    /** Set when the caller is interrupted or a worker fails: the workers stop at the next tile. */
    volatile boolean cancelled;

    Run(Side left, Side right, int k, RankBy rankBy, boolean excludeDiagonal) {
      this.left = left;
      this.right = right;
      this.r = left.sorted.columns();
      // Any summation order of a float32 dot product of length r errs by at most γ_r·Σ|l·r| ≤
      // γ_r·‖l‖·‖r‖ (Higham,
      // Accuracy and Stability of Numerical Algorithms, §3.1); 2u more covers rounding the rescored
      // value to float.
      double gamma = (r + 2) * U / (1 - (r + 2) * U);
      this.floatSlack = (gamma + 2 * U) * (1 + 1e-9);
      this.workers = new Worker[threads];
      for (int w = 0; w < threads; w++) {
        workers[w] = new Worker(k, this);
      }
      this.rankBy = rankBy;
      this.excludeDiagonal = excludeDiagonal;
    }

    /** Rescores sorted entry (i, j) exactly and offers it to the worker's heap. */
    void offer(Worker w, int i, int j) {
      int row = left.perm[i];
      int col = right.perm[j];
      if (excludeDiagonal && row == col) {
        return;
      }
      w.st.rescored++;
      float v = (float) kernels.dot(left.buf, i * r, right.buf, j * r, r);
      w.heap.offer(rankBy.key(v), v, row, col);
      if (w.heap.full()) {
        prove(w.heap.threshold());
      }
    }

    synchronized void prove(float t) {
      if (t > proved) {
        proved = t;
      }
    }

    /** The best threshold any worker has proved: at least k entries reach it. */
    float threshold() {
      float t = proved;
      for (Worker w : workers) {
        t = Math.max(t, w.heap.threshold());
      }
      return t;
    }

    /** The k best entries of every worker's heap together. */
    List<FeatureEdge> merged(int k) {
      if (workers.length == 1) {
        return workers[0].heap.sorted();
      }
      TopKHeap all = new TopKHeap(k);
      for (Worker w : workers) {
        for (FeatureEdge e : w.heap.sorted()) {
          all.offer(rankBy.key(e.value()), e.value(), e.row(), e.col());
        }
      }
      return all.sorted();
    }
  }

  /**
   * Computes the top-k of {@code L · Rᵀ}.
   *
   * @param left L (may be a strided view, e.g. one head's columns of a fused projection); an
   *     operand passed again as the same array object is not prepared again, so do not modify an
   *     array between calls on one engine
   * @param right R (may be a strided view), same inner width
   * @param k entries to keep; more than the product has ({@link FactoredProduct#entries}) gives all
   *     of them
   * @param rankBy ranking
   * @param excludeDiagonal skip entries with row == col
   * @param stats receives tile counts (may be null)
   * @param progress called after each tile row
   * @return the entries, best first (ties: smaller row, then smaller column)
   */
  List<FeatureEdge> topK(
      INDArray left,
      INDArray right,
      int k,
      RankBy rankBy,
      boolean excludeDiagonal,
      FactoredProduct.Stats stats,
      Runnable progress) {
    int nL = left.rows();
    int nR = right.rows();
    int r = left.columns();
    k = (int) Math.min(k, FactoredProduct.entries(nL, nR, excludeDiagonal));
    if (k == 0) {
      return List.of();
    }
    boolean int8 =
        screen == Screen.INT8
            && (long) r * QuantizedRows.LEVELS * QuantizedRows.LEVELS < Integer.MAX_VALUE;
    Side ls = leftSide = prepare(left, leftSide, "l", int8 ? 1 : 0);
    Side rs = rightSide = prepare(right, rightSide, "r", int8 ? QuantizedRows.GROUP : 0);
    Run run = new Run(ls, rs, k, rankBy, excludeDiagonal);
    int tr = Math.min(tileRows, nL);
    int tc = Math.min(tileCols, nR);
    long rowBlocks = (nL + tr - 1) / tr;
    long colBlocks = (nR + tc - 1) / tc;
    FactoredProduct.Stats st = new FactoredProduct.Stats();
    st.tiles = rowBlocks * colBlocks;
    if (Thread.currentThread().isInterrupted()) {
      throw new CancellationException("interrupted");
    }
    if (int8) {
      int8Tiles(run, tr, tc, k, progress);
    } else {
      floatTiles(run, tr, tc, st, progress);
    }
    for (Worker w : run.workers) {
      st.add(w.st);
    }
    if (stats != null) {
      stats.add(st);
    }
    return run.merged(k);
  }

  /**
   * The float32 screen: each tile's GEMM runs on every core (ND4J's threads), then the scanning
   * workers share its rows.
   */
  private void floatTiles(Run run, int tr, int tc, FactoredProduct.Stats st, Runnable progress) {
    Side ls = run.left;
    Side rs = run.right;
    int nL = ls.sorted.rows();
    int nR = rs.sorted.rows();
    for (int r0 = 0; r0 < nL; r0 += tr) {
      if (Thread.currentThread().isInterrupted()) {
        throw new CancellationException("interrupted");
      }
      int rows = Math.min(tr, nL - r0);
      for (int c0 = 0; c0 < nR; c0 += tc) {
        int cols = Math.min(tc, nR - c0);
        int rowOffset = r0;
        int colOffset = c0;
        if (prune && ls.maxFrom[r0] * rs.maxFrom[c0] * (1 + 1e-6) < run.threshold()) {
          st.skipped += (nR - c0 + tc - 1) / tc;
          break; // later column blocks have smaller norms still
        }
        INDArray tile = tile(DataType.FLOAT, rows, cols);
        INDArray a = ls.sorted.get(NDArrayIndex.interval(r0, r0 + rows), NDArrayIndex.all());
        Nd4j.gemm(a, rs.transposedBlock(c0, cols), tile, false, false, 1.0, 0.0);
        ByteBuffer v = view(DataType.FLOAT, rows, cols);
        double maxCol = rs.maxFrom[c0];
        scanInParallel(
            run,
            rows,
            (w, row) -> scanFloatRow(run, w, v, row, cols, rowOffset, colOffset, maxCol));
      }
      if (progress != null) {
        progress.run();
      }
    }
  }

  /**
   * The int8 screen, fused: every worker takes whole row blocks in turn and, tile after tile,
   * computes the tile's integer GEMM on its own core (one thread) into a buffer of its own and
   * scans it at once, while the tile is still in the core's cache. No tile is ever read back from
   * main memory, and no worker waits for another. The first tile is computed beforehand, to prime
   * the threshold ({@link #prime}), and scanned by worker 0. The caller's thread waits, reporting
   * each finished row block to {@code progress}.
   */
  private void int8Tiles(Run run, int tr, int tc, int k, Runnable progress) {
    Side ls = run.left;
    Side rs = run.right;
    int nL = ls.sorted.rows();
    int nR = rs.sorted.rows();
    int rowBlocks = (nL + tr - 1) / tr;
    IntTile[] buffers = new IntTile[run.workers.length];
    for (int w = 0; w < buffers.length; w++) {
      buffers[w] = intTile(w, tr, tc);
    }
    int rows0 = Math.min(tr, nL);
    int cols0 = Math.min(tc, nR);
    intGemm(ls, rs, 0, rows0, 0, cols0, buffers[0].shaped(rows0, cols0));
    prime(run, buffers[0].bytes, rows0, cols0, k);
    for (int row = 0; row < rows0; row++) {
      scanIntRow(run, run.workers[0], buffers[0].bytes, row, cols0, 0, 0);
    }
    java.util.concurrent.atomic.AtomicInteger nextBlock =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.Semaphore finished = new java.util.concurrent.Semaphore(0);
    List<java.util.concurrent.Future<?>> pending = new ArrayList<>();
    for (int w = 0; w < buffers.length; w++) {
      Worker worker = run.workers[w];
      IntTile buf = buffers[w];
      pending.add(
          pool()
              .submit(
                  () -> {
                    for (int rb = nextBlock.getAndIncrement();
                        rb < rowBlocks && !run.cancelled;
                        rb = nextBlock.getAndIncrement()) {
                      intRowBlock(run, worker, buf, rb * tr, Math.min(tr, nL - rb * tr), tc);
                      finished.release();
                    }
                  }));
    }
    RuntimeException failure = null;
    boolean interrupted = false;
    try {
      for (int done = 0; done < rowBlocks; ) {
        if (finished.tryAcquire(20, java.util.concurrent.TimeUnit.MILLISECONDS)) {
          done++;
          if (progress != null) {
            progress.run();
          }
        } else if (failed(pending) || allDone(pending) && finished.availablePermits() == 0) {
          break;
        }
      }
    } catch (InterruptedException e) {
      interrupted = true;
    } catch (RuntimeException e) {
      failure = e;
    } finally {
      run.cancelled |= interrupted || failure != null;
    }
    // Wait for every worker even when interrupted or failed: the tiles' memory must outlive their
    // writers and readers (it is reused by the next product and freed by release()).
    RuntimeException workerFailure = awaitAll(pending);
    if (interrupted || Thread.currentThread().isInterrupted()) {
      Thread.currentThread().interrupt();
      throw new CancellationException("interrupted");
    }
    if (failure != null) {
      throw failure;
    }
    if (workerFailure != null) {
      throw workerFailure;
    }
  }

  /**
   * One row block of the fused int8 screen for one worker: its tiles left to right (row block 0
   * starts after the priming tile), until the norm bound rules out the rest.
   */
  private void intRowBlock(Run run, Worker w, IntTile buf, int r0, int rows, int tc) {
    Side ls = run.left;
    Side rs = run.right;
    int nR = rs.sorted.rows();
    for (int c0 = r0 == 0 ? tc : 0; c0 < nR && !run.cancelled; c0 += tc) {
      int cols = Math.min(tc, nR - c0);
      if (prune && ls.maxFrom[r0] * rs.maxFrom[c0] * (1 + 1e-6) < w.threshold()) {
        w.st.skipped += (nR - c0 + tc - 1) / tc;
        return; // later column blocks have smaller norms still
      }
      intGemm(ls, rs, r0, rows, c0, cols, buf.shaped(rows, cols));
      for (int row = 0; row < rows; row++) {
        scanIntRow(run, w, buf.bytes, row, cols, r0, c0);
      }
    }
  }

  /** The integer GEMM of sorted rows {@code [r0, r0+rows)} of L by {@code [c0, c0+cols)} of R. */
  private static void intGemm(Side ls, Side rs, int r0, int rows, int c0, int cols, INDArray out) {
    INDArray a = ls.int8.get(NDArrayIndex.interval(r0, r0 + rows), NDArrayIndex.all());
    INDArray b = rs.int8.get(NDArrayIndex.interval(c0, c0 + cols), NDArrayIndex.all());
    Nd4j.exec(
        DynamicCustomOp.builder("matmul")
            .addInputs(a, b)
            .addOutputs(out)
            .addIntegerArguments(0, 1)
            .build());
  }

  private static boolean failed(List<java.util.concurrent.Future<?>> pending) {
    for (java.util.concurrent.Future<?> f : pending) {
      if (f.isDone()) {
        try {
          f.get();
        } catch (java.util.concurrent.ExecutionException e) {
          return true;
        } catch (InterruptedException | CancellationException e) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean allDone(List<java.util.concurrent.Future<?>> pending) {
    for (java.util.concurrent.Future<?> f : pending) {
      if (!f.isDone()) {
        return false;
      }
    }
    return true;
  }

  /**
   * Waits for every future, uninterruptibly (restoring the thread's interrupt), and returns the
   * first failure, if any.
   */
  private static RuntimeException awaitAll(List<java.util.concurrent.Future<?>> pending) {
    RuntimeException failure = null;
    boolean interrupted = false;
    for (java.util.concurrent.Future<?> f : pending) {
      while (true) {
        try {
          f.get();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (java.util.concurrent.ExecutionException e) {
          Throwable c = e.getCause();
          failure =
              failure != null
                  ? failure
                  : c instanceof RuntimeException
                      ? (RuntimeException) c
                      : new IllegalStateException(c);
          break;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    return failure;
  }

  /**
   * One int8 worker's GEMM output: a {@code [tileRows, tileCols]} int32 buffer, and c-order views
   * of its first {@code rows·cols} elements for the smaller tiles at the edges.
   */
  private static final class IntTile {
    final INDArray full;
    final ByteBuffer bytes;
    private final Map<Long, INDArray> shapes = new HashMap<>();

    IntTile(int rows, int cols) {
      full = Nd4j.createUninitialized(DataType.INT32, new long[] {rows, cols}, 'c');
      bytes = full.data().asNio().order(ByteOrder.nativeOrder());
    }

    INDArray shaped(int rows, int cols) {
      if (rows == full.rows() && cols == full.columns()) {
        return full;
      }
      return shapes.computeIfAbsent(
          ((long) rows << 32) | cols,
          kk ->
              Nd4j.create(
                  full.data(),
                  new long[] {rows, cols},
                  new long[] {cols, 1},
                  0,
                  'c',
                  DataType.INT32));
    }
  }

  private IntTile intTile(int worker, int rows, int cols) {
    return intTiles.computeIfAbsent(
        worker + ":" + rows + "x" + cols, kk -> new IntTile(rows, cols));
  }

  /**
   * One operand prepared for the tiles: its rows sorted by norm (a contiguous copy and its bytes),
   * the permutation, the exact norms and their suffix maxima, and the int8 screen's quantised copy
   * or the float screen's transposed column blocks.
   */
  private final class Side {
    final INDArray source;
    final int groupSize;
    final INDArray sorted;
    final ByteBuffer buf;
    final int[] perm;
    final double[] norms;

    /**
     * {@code maxFrom[i] = max(norms[i..])}: a bound for every row from i on, whatever the float
     * sort order did.
     */
    final double[] maxFrom;

    final INDArray int8;
    final QuantizedRows quant;
    private final Map<Integer, INDArray> transposed = new HashMap<>();

    /**
     * @param role scratch-name prefix, one per operand slot
     * @param groupSize quantisation group, or 0 for no int8 copy
     */
    Side(INDArray src, String role, int groupSize) {
      int n = src.rows();
      int r = src.columns();
      this.source = src;
      this.groupSize = groupSize;
      // Scratch arrays are reused across calls with the same shapes (every head of a layer):
      // allocating and freeing
      // tens of MB per head fragments the native heap and made RSS grow by ~80 MB per head.
      INDArray unsorted = scratch(role + "u", DataType.FLOAT, n, r).assign(src);
      double[] unsortedNorms = exactNorms(unsorted);
      this.perm = sortedByNorm(unsortedNorms);
      this.norms = permute(unsortedNorms, perm);
      this.maxFrom = suffixMax(norms);
      this.sorted = Nd4j.pullRows(unsorted, scratch(role + "s", DataType.FLOAT, n, r), 1, perm);
      this.buf = sorted.data().asNio().order(ByteOrder.nativeOrder());
      this.int8 = groupSize > 0 ? scratch(role + "q", DataType.INT8, n, r) : null;
      this.quant = groupSize > 0 ? QuantizedRows.of(sorted, int8, groupSize, norms, kernels) : null;
    }

    /**
     * Rows {@code [c0, c0 + cols)} transposed to {@code [r, cols]} c-order, made once per side:
     * ND4J's float GEMM runs ~1.3x faster than with the transpose flag.
     */
    INDArray transposedBlock(int c0, int cols) {
      return transposed.computeIfAbsent(
          c0,
          kk ->
              scratch("rT" + c0, DataType.FLOAT, sorted.columns(), cols)
                  .assign(
                      sorted
                          .get(NDArrayIndex.interval(c0, c0 + cols), NDArrayIndex.all())
                          .transpose()));
    }
  }

  /**
   * Prepares {@code src}, or reuses {@code cached} when it was prepared from the very same array
   * object (query heads sharing one KV head pass the same K or V view twice; callers never mutate
   * an operand between calls).
   */
  private Side prepare(INDArray src, Side cached, String role, int groupSize) {
    return cached != null && cached.source == src && cached.groupSize == groupSize
        ? cached
        : new Side(src, role, groupSize);
  }

  /** Scans one row of the current tile for one worker. */
  private interface RowTask {
    void scan(Worker w, int row);
  }

  /**
   * Scans the tile's rows, worker w taking rows w, w + W, w + 2W, … (rows are sorted by norm, so
   * the workers get alike shares). One tile is a few hundred MB/s of memory traffic per core; two
   * cores read it twice as fast.
   */
  private void scanInParallel(Run run, int rows, RowTask task) {
    int n = run.workers.length;
    if (n == 1 || rows < 2 * n) {
      for (int row = 0; row < rows; row++) {
        task.scan(run.workers[0], row);
      }
      return;
    }
    List<java.util.concurrent.Future<?>> pending = new ArrayList<>();
    for (int w = 1; w < n; w++) {
      int first = w;
      Worker worker = run.workers[w];
      pending.add(
          pool()
              .submit(
                  () -> {
                    for (int row = first; row < rows; row += n) {
                      task.scan(worker, row);
                    }
                  }));
    }
    RuntimeException failure = null;
    try {
      for (int row = 0; row < rows; row += n) {
        task.scan(run.workers[0], row);
      }
    } catch (RuntimeException e) {
      failure = e;
    }
    // Wait for every worker even when interrupted or failed: the tile's memory must outlive all
    // readers (it is
    // reused for the next tile and freed by release()). A tile's scan takes milliseconds.
    boolean interrupted = false;
    for (java.util.concurrent.Future<?> f : pending) {
      while (true) {
        try {
          f.get();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (java.util.concurrent.ExecutionException e) {
          Throwable c = e.getCause();
          failure =
              failure != null
                  ? failure
                  : c instanceof RuntimeException
                      ? (RuntimeException) c
                      : new IllegalStateException(c);
          break;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failure != null) {
      throw failure;
    }
    if (interrupted) {
      throw new CancellationException("interrupted");
    }
  }

  private java.util.concurrent.ExecutorService pool() {
    if (pool == null) {
      // one thread per worker; each runs ND4J's native code (the int8 tiles' GEMMs) on one OpenMP
      // thread, a setting of its own thread (the caller's GEMMs keep every core)
      pool =
          java.util.concurrent.Executors.newFixedThreadPool(
              threads,
              task -> {
                Thread t =
                    new Thread(
                        () -> {
                          NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(1);
                          task.run();
                        },
                        "saelab-tiles");
                t.setDaemon(true);
                return t;
              });
    }
    return pool;
  }

  /**
   * Float32 screen of one row: candidates within the GEMM's worst-case error ({@link
   * Run#floatSlack}).
   */
  private void scanFloatRow(
      Run run, Worker w, ByteBuffer tile, int row, int cols, int r0, int c0, double maxCol) {
    int i = r0 + row;
    double slack = run.floatSlack * run.left.norms[i] * maxCol;
    int rowStart = row * cols;
    float t = lowered(w.threshold(), slack);
    for (int c = kernels.next(tile, rowStart, 0, cols, t, run.rankBy);
        c < cols;
        c = kernels.next(tile, rowStart, c + 1, cols, t, run.rankBy)) {
      run.offer(w, i, c0 + c);
      t = lowered(w.threshold(), slack);
    }
  }

  /** {@code theta - slack} rounded down to a float. */
  private static float lowered(float theta, double slack) {
    if (theta == Float.NEGATIVE_INFINITY) {
      return theta;
    }
    double x = theta - slack;
    float f = (float) x;
    return f > x ? Math.nextDown(f) : f;
  }

  /**
   * Integer screen of one row: one integer threshold per column group (see {@link #intThreshold}),
   * recomputed when the worker's threshold moves.
   */
  private void scanIntRow(Run run, Worker w, ByteBuffer tile, int row, int cols, int r0, int c0) {
    int g0 = QuantizedRows.GROUP;
    int i = r0 + row;
    int rowStart = row * cols;
    for (int from = 0; from < cols; ) {
      int g = (c0 + from) / g0;
      int to = Math.min(cols, (g + 1) * g0 - c0);
      float theta = w.threshold();
      int t = intThreshold(run, theta, i, g);
      if (kernels.maxIntKey(tile, rowStart, from, to, run.rankBy) < t) {
        from = to; // the usual case: nothing in the group reaches the threshold
        continue;
      }
      for (int c = kernels.nextInt(tile, rowStart, from, to, t, run.rankBy);
          c < to;
          c = kernels.nextInt(tile, rowStart, c + 1, to, t, run.rankBy)) {
        run.offer(w, i, c0 + c);
        if (w.threshold() != theta) {
          theta = w.threshold();
          t = intThreshold(run, theta, i, g);
        }
      }
      from = to;
    }
  }

  /**
   * Starts the run with a threshold near its final value, so that the first tile's scan does not
   * rescore the thousands of entries an empty heap would take: the k best entries of the first tile
   * by their approximate (integer) keys are rescored exactly, and the smallest of those k exact
   * keys is proved (k entries reach it). The entries themselves are left to the normal scan, which
   * finds them again.
   */
  private void prime(Run run, ByteBuffer tile, int rows, int cols, int k) {
    TopKHeap approx = new TopKHeap(k);
    int g0 = QuantizedRows.GROUP;
    for (int i = 0; i < rows; i++) {
      int rowStart = i * cols;
      for (int from = 0; from < cols; ) {
        int g = from / g0;
        int to = Math.min(cols, (g + 1) * g0);
        double st = run.left.quant.scale[i] * run.right.quant.scale[g];
        int t = approxThreshold(approx.threshold(), st);
        for (int c = st == 0 ? to : kernels.nextInt(tile, rowStart, from, to, t, run.rankBy);
            c < to;
            c = kernels.nextInt(tile, rowStart, c + 1, to, t, run.rankBy)) {
          if (!(run.excludeDiagonal && run.left.perm[i] == run.right.perm[c])) {
            approx.offer(
                (float) (st * TileKernels.intKey(tile.getInt(4 * (rowStart + c)), run.rankBy)),
                0f,
                i,
                c);
            t = approxThreshold(approx.threshold(), st);
          }
        }
        from = to;
      }
    }
    if (!approx.full()) {
      return;
    }
    float least = Float.POSITIVE_INFINITY;
    for (FeatureEdge e : approx.sorted()) {
      float v =
          (float) kernels.dot(run.left.buf, e.row() * run.r, run.right.buf, e.col() * run.r, run.r);
      least = Math.min(least, run.rankBy.key(v));
    }
    run.prove(least);
  }

  /**
   * The integer key an entry with scale product {@code st} needs to reach approximate key {@code
   * theta}.
   */
  private static int approxThreshold(float theta, double st) {
    return theta == Float.NEGATIVE_INFINITY ? Integer.MIN_VALUE + 1 : integerKeyBound(theta, st);
  }

  /**
   * The smallest integer key an int32 entry {@code c} of row i and column group g needs to possibly
   * reach the heap's threshold θ. With {@code l = s·a + Δl} and {@code r = t·b + Δr}: {@code l·r −
   * s·t·(a·b) = s·a·Δr + Δl·r}, so {@code |l·r − s·t·c| ≤ ‖s·a‖·‖Δr‖ + ‖Δl‖·‖r‖ = β}; a margin of
   * 1e-6·‖l‖·‖r‖ covers the float rounding of the rescored value and the double arithmetic here.
   * The entry is a candidate when {@code key(s·t·c) + β ≥ θ}, i.e. {@code key(c) ≥ (θ − β)/(s·t)}.
   */
  private static int intThreshold(Run run, float theta, int i, int g) {
    if (theta == Float.NEGATIVE_INFINITY) {
      return Integer.MIN_VALUE + 1;
    }
    QuantizedRows l = run.left.quant;
    QuantizedRows r = run.right.quant;
    double beta =
        (l.quantNorm[i] * r.residualNorm[g] + l.residualNorm[i] * r.norm[g]) * (1 + 1e-9)
            + 1e-6 * l.norm[i] * r.norm[g];
    return integerKeyBound(theta - beta, l.scale[i] * r.scale[g]);
  }

  /**
   * A safe integer bound for {@code key(c) · st ≥ need}: the floor of {@code need / st} minus one,
   * clamped; with {@code st = 0} every entry's key is 0, so all pass or none.
   */
  private static int integerKeyBound(double need, double st) {
    if (st == 0) {
      return need <= 0 ? Integer.MIN_VALUE + 1 : Integer.MAX_VALUE;
    }
    return (int)
        Math.max(Integer.MIN_VALUE + 1, Math.min(Integer.MAX_VALUE, Math.floor(need / st) - 1));
  }

  private INDArray scratch(String name, DataType type, int rows, int cols) {
    return scratch.computeIfAbsent(
        name + ":" + type + ":" + rows + "x" + cols,
        kk -> Nd4j.createUninitialized(type, new long[] {rows, cols}, 'c'));
  }

  /** Row norms of a c-order float32 matrix, accumulated in double. */
  private double[] exactNorms(INDArray m) {
    int n = m.rows();
    int r = m.columns();
    ByteBuffer b = m.data().asNio().order(ByteOrder.nativeOrder());
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = Math.sqrt(kernels.dot(b, i * r, b, i * r, r));
    }
    return out;
  }

  private static double[] permute(double[] a, int[] perm) {
    double[] out = new double[perm.length];
    for (int i = 0; i < perm.length; i++) {
      out[i] = a[perm[i]];
    }
    return out;
  }

  /** {@code out[i] = max(a[i..])}. */
  private static double[] suffixMax(double[] a) {
    double[] out = new double[a.length];
    double m = 0;
    for (int i = a.length - 1; i >= 0; i--) {
      m = Math.max(m, a[i]);
      out[i] = m;
    }
    return out;
  }

  private static String key(DataType type, int rows, int cols) {
    return type + ":" + rows + "x" + cols;
  }

  private INDArray tile(DataType type, int rows, int cols) {
    return tiles.computeIfAbsent(
        key(type, rows, cols),
        kk -> {
          INDArray t = Nd4j.createUninitialized(type, new long[] {rows, cols}, 'c');
          views.put(kk, t.data().asNio().order(ByteOrder.nativeOrder()));
          return t;
        });
  }

  private ByteBuffer view(DataType type, int rows, int cols) {
    return views.get(key(type, rows, cols));
  }

  /** Releases the tiles' off-heap memory and the scanning threads. */
  void release() {
    tiles.values().forEach(INDArray::close);
    tiles.clear();
    views.clear();
    intTiles.values().forEach(t -> t.full.close());
    intTiles.clear();
    scratch.values().forEach(INDArray::close);
    scratch.clear();
    leftSide = null;
    rightSide = null;
    if (pool != null) {
      pool.shutdownNow();
      pool = null;
    }
  }

  /** Row indices ordered by norm, largest first (ties: smaller index first). */
  static int[] sortedByNorm(double[] n) {
    long[] keys = new long[n.length];
    for (int i = 0; i < n.length; i++) {
      // non-negative floats order like their bit patterns; descending norm, then ascending index
      keys[i] = ((long) (Integer.MAX_VALUE - Float.floatToIntBits((float) n[i])) << 32) | i;
    }
    java.util.Arrays.sort(keys);
    int[] out = new int[n.length];
    for (int i = 0; i < n.length; i++) {
      out[i] = (int) keys[i];
    }
    return out;
  }
}
