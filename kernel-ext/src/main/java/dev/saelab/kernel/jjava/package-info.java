/** JJava (the primary kernel, 1.0-a6 and later): installed through its Extension service. */
package dev.saelab.kernel.jjava;
