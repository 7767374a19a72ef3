package dev.saelab.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The house rules: layers whose imports point one way, {@code io → model/sae/labels/hub → linalg →
 * forward → circuits → atlas → api → render → (cli, magic) → kernel}; no cycles between packages;
 * only the kernel adapters import a kernel's API.
 */
class ArchitectureTest {
  private static JavaClasses main;

  @BeforeAll
  static void importMainClasses() {
    main =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.saelab");
  }

  @Test
  void layersPointOneWay() {
    layeredArchitecture()
        .consideringOnlyDependenciesInLayers()
        .layer("io")
        .definedBy("dev.saelab.io..")
        .layer("domain")
        .definedBy(
            "dev.saelab.model..", "dev.saelab.sae..", "dev.saelab.labels..", "dev.saelab.hub..")
        .layer("linalg")
        .definedBy("dev.saelab.linalg..")
        .layer("forward")
        .definedBy("dev.saelab.forward..")
        .layer("circuits")
        .definedBy("dev.saelab.circuits..")
        .layer("atlas")
        .definedBy("dev.saelab.atlas..")
        .layer("api")
        .definedBy("dev.saelab.api..")
        .layer("render")
        .definedBy("dev.saelab.render..")
        .layer("frontends")
        .definedBy("dev.saelab.cli..", "dev.saelab.magic..")
        .layer("kernel")
        .definedBy("dev.saelab.kernel..")
        .whereLayer("kernel")
        .mayNotBeAccessedByAnyLayer()
        .whereLayer("frontends")
        .mayOnlyBeAccessedByLayers("kernel")
        .whereLayer("render")
        .mayOnlyBeAccessedByLayers("frontends", "kernel")
        .whereLayer("api")
        .mayOnlyBeAccessedByLayers("render", "frontends", "kernel")
        .whereLayer("atlas")
        .mayOnlyBeAccessedByLayers("api", "render", "frontends", "kernel")
        .whereLayer("circuits")
        .mayOnlyBeAccessedByLayers("atlas", "api", "render", "frontends", "kernel")
        .whereLayer("forward")
        .mayOnlyBeAccessedByLayers("circuits", "atlas", "api", "render", "frontends", "kernel")
        .whereLayer("linalg")
        .mayOnlyBeAccessedByLayers(
            "forward", "circuits", "atlas", "api", "render", "frontends", "kernel")
        .whereLayer("domain")
        .mayOnlyBeAccessedByLayers(
            "domain",
            "linalg",
            "forward",
            "circuits",
            "atlas",
            "api",
            "render",
            "frontends",
            "kernel")
        .check(main);
  }

  @Test
  void noCyclesBetweenPackages() {
    slices().matching("dev.saelab.(*)..").should().beFreeOfCycles().check(main);
  }

  @Test
  void everyClassLivesInALayer() {
    noClasses().should().resideInAPackage("dev.saelab").check(main);
  }

  @Test
  void onlyKernelAdaptersImportAKernelApi() {
    noClasses()
        .that()
        .resideOutsideOfPackage("dev.saelab.kernel..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("org.dflib.jjava..", "io.github.spencerpark..", "org.rapaio.jupyter..")
        .check(main);
  }

  @Test
  void thePlainJarHasNoSpark() {
    // the atlas core runs units for a Spark runner in a second artifact, never the reverse
    noClasses()
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("org.apache.spark..", "scala..")
        .check(main);
  }
}
