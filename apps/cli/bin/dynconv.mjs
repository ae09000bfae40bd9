#!/usr/bin/env node
import '../dist-bundle/dynconv.mjs';
