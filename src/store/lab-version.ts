/** The lab's version, from package.json: recorded with every run, so a result says which code made it. */
import pkg from '../../package.json';

export const LAB_VERSION: string = pkg.version;
