package dev.saelab.atlas.spark;

import dev.saelab.atlas.AtlasProgress;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.Success$;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Reports each finished work unit to the run's {@link AtlasProgress}, from Spark's listener bus: a
 * unit is a task of the stage that reads a wave's units RDD (one partition per unit). A failed
 * attempt (a lost executor, an error Spark retries) is reported as a message; a unit rerun after
 * its executor was lost is counted once.
 */
final class UnitProgress extends SparkListener {
  private final AtlasProgress progress;
  private final long total;
  private final Map<String, List<String>> waves = new ConcurrentHashMap<>();
  private final Map<Integer, String> unitStages = new ConcurrentHashMap<>();
  private final Set<String> finished = new HashSet<>();
  private long done;

  UnitProgress(AtlasProgress progress, long done, long total) {
    this.progress = progress;
    this.done = done;
    this.total = total;
  }

  /** The next wave: its units RDD's name and its units' ids, by partition. */
  void expect(String rddName, List<String> ids) {
    waves.put(rddName, List.copyOf(ids));
  }

  @Override
  public void onStageSubmitted(SparkListenerStageSubmitted submitted) {
    StageInfo info = submitted.stageInfo();
    for (var rdd : CollectionConverters.asJava(info.rddInfos())) {
      if (rdd.name() != null && waves.containsKey(rdd.name())) {
        unitStages.put(info.stageId(), rdd.name());
      }
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd end) {
    String rdd = unitStages.get(end.stageId());
    if (rdd == null) {
      return;
    }
    List<String> ids = waves.get(rdd);
    int unit = end.taskInfo().partitionId();
    String id = unit >= 0 && unit < ids.size() ? ids.get(unit) : "unit " + unit;
    String executor = end.taskInfo().executorId();
    if (end.reason() != Success$.MODULE$) {
      progress.message(
          "unit "
              + id
              + " failed on executor "
              + executor
              + " ("
              + end.reason().getClass().getSimpleName().replace("$", "")
              + "); Spark runs it again");
      return;
    }
    long n;
    synchronized (this) {
      if (!finished.add(rdd + ":" + unit)) {
        progress.message(
            "unit " + id + " rerun on executor " + executor + " (its executor was lost)");
        return;
      }
      n = ++done;
    }
    progress.unit(id, n, total);
  }
}
