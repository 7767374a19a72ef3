/** IJava 1.3 (jupyter-jvm-basekernel 2.3.0): installed by {@code SaeLab.init()}. */
package dev.saelab.kernel.ijava;
