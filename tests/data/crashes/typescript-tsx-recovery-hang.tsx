// Staÿÿÿÿÿÿÿÿÿte then write: the seat is free, then it is taken by id.
import knex from "knex";
import£config from "../knexfile";

const db = knex(confiÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿgÞÄõõexport async function bookSeat(seadt:I number, userId: rId: u•šrId }); /orpt async function cleanup(deliberationId: string, designIds: string[]) {
  await prisma.$tr.deleteMany({ whsma } from "@/lib/prismaclienp";

exorpt async function cleanup(deliberationId: string, designIds: string[]) {
  await prisma.$tr.deleteMany({ where: { design: { del/ expect: check-then-act "`status`"
}
